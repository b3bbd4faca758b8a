// Weft's live updates: when the thread being read (or, on the home feed, anything the reader
// may see) changes at any site, fetch the page again and swap its content in place, keeping
// the reply being typed; and on every page, keep the unread notification count current. Pages work the same without this script; it only saves a reload.
(function () {
  "use strict";
  // The browser's time zone, for the node to show times in it (unless the profile names
  // one). On the first page after it is learned, the times already shown are redone here.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.split("; ").indexOf("weft_tz=" + tz) < 0) {
      document.cookie = "weft_tz=" + tz + "; path=/; max-age=31536000; samesite=lax";
      var fmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        timeZoneName: "short"
      });
      var times = document.querySelectorAll("time[datetime]:not([data-zone])");
      for (var i = 0; i < times.length; i++) {
        var d = new Date(times[i].getAttribute("datetime"));
        if (!isNaN(d)) times[i].textContent = fmt.format(d);
      }
    }
  } catch (err) { /* an old browser: times stay as the node wrote them */ }
  var main = document.getElementById("main");
  var live = main && main.getAttribute("data-live");
  if (!window.EventSource || !window.fetch) return;
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh) return;
        var draft = document.getElementById("rbody");
        var text = draft ? draft.value : "";
        var focused = draft && document.activeElement === draft;
        // File fields being filled (upload.js) are kept as they are, uploads and all.
        var uploads = {};
        Array.prototype.forEach.call(main.querySelectorAll("[data-upload][data-ready]"), function (box) {
          var input = box.querySelector("input[type=file]");
          if (input && input.id) uploads[input.id] = box;
        });
        main.innerHTML = fresh.innerHTML;
        var nd = document.getElementById("rbody");
        if (nd && text) { nd.value = text; if (focused) nd.focus(); }
        Object.keys(uploads).forEach(function (id) {
          var input = document.getElementById(id);
          var box = input && input.closest("[data-upload]");
          if (box) box.replaceWith(uploads[id]);
        });
        if (window.weftUploads) window.weftUploads();
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var es = new EventSource("/api/v1/events");
  // A page left for another is closed at once: kept open (in the back-forward cache), its
  // stream would hold one of the few connections a browser opens to one host, and after a
  // handful of pages the next one would wait for a free connection forever. Coming back to
  // it reloads it, so that it is current.
  window.addEventListener("pagehide", function () { es.close(); });
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });
  es.addEventListener("change", function (e) {
    if (!live) return;
    try {
      var d = JSON.parse(e.data);
      if (live === "feed" || d.doc === live) refresh();
    } catch (err) { /* ignore malformed events */ }
  });
  // The unread count next to "Notifications", on every page.
  es.addEventListener("notification", function (e) {
    try {
      var n = JSON.parse(e.data).unread;
      var badge = document.getElementById("unread");
      if (badge) { badge.textContent = n; badge.hidden = !n; }
      var bell = document.getElementById("bell");
      if (bell && bell.getAttribute("aria-label")) {
        bell.setAttribute("aria-label", bell.getAttribute("aria-label").replace(/\(\d+\)/, "(" + n + ")"));
      }
    } catch (err) { /* ignore malformed events */ }
  });
})();
