// Weft's @mention completion: in a post form (a textarea marked data-mentions) or a person
// field (an input marked data-people), typing "@jo" (or, in a person field, "jo") lists
// matching colleagues from the directory; arrows choose, Enter or Tab inserts, Escape closes.
// Without this script the fields work as plain text.
(function () {
  "use strict";
  if (!window.fetch) return;
  var box = null, items = [], active = -1, field = null, timer = null, seq = 0;

  function close() {
    if (box) box.remove();
    box = null; items = []; active = -1;
    if (field) field.removeAttribute("aria-activedescendant");
  }

  // The word being typed: [start, text] (without the "@" in a post).
  function current(el) {
    var upto = el.value.slice(0, el.selectionStart);
    if (el.hasAttribute("data-people")) return [0, upto.trim()];
    var m = /(^|\s)@([\w.\-]{1,40})$/.exec(upto);
    return m ? [upto.length - m[2].length, m[2]] : null;
  }

  function choose(i) {
    var p = items[i];
    if (!p || !field) return;
    if (field.hasAttribute("data-people")) {
      field.value = p.id;
    } else {
      var w = current(field);
      if (!w) return close();
      var end = field.selectionStart;
      field.value = field.value.slice(0, w[0]) + p.id + " " + field.value.slice(end);
      var at = w[0] + p.id.length + 1;
      field.setSelectionRange(at, at);
    }
    close();
    field.focus();
  }

  function show(el, people) {
    close();
    if (!people.length) return;
    field = el; items = people; active = 0;
    box = document.createElement("ul");
    box.className = "suggest";
    box.id = "suggest";
    box.setAttribute("role", "listbox");
    people.forEach(function (p, i) {
      var li = document.createElement("li");
      li.id = "suggest-" + i;
      li.setAttribute("role", "option");
      li.textContent = p.display_name + " · @" + p.id + (p.site ? " · " + p.site : "");
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
      box.appendChild(li);
    });
    el.insertAdjacentElement("afterend", box);
    mark();
  }

  function mark() {
    if (!box) return;
    Array.prototype.forEach.call(box.children, function (li, i) {
      li.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    field.setAttribute("aria-activedescendant", "suggest-" + active);
  }

  function lookup(el) {
    var w = current(el);
    if (!w || !w[1]) return close();
    var mine = ++seq;
    fetch("/api/v1/people?limit=6&q=" + encodeURIComponent(w[1]), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (d) { if (mine === seq) show(el, d.items || []); })
      .catch(function () {});
  }

  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.hasAttribute || !(el.hasAttribute("data-mentions") || el.hasAttribute("data-people"))) return;
    el.setAttribute("aria-autocomplete", "list");
    el.setAttribute("aria-controls", "suggest");
    clearTimeout(timer);
    timer = setTimeout(function () { lookup(el); }, 120);
  });

  document.addEventListener("keydown", function (e) {
    if (!box || e.target !== field) return;
    if (e.key === "ArrowDown") { active = (active + 1) % items.length; mark(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = (active + items.length - 1) % items.length; mark(); e.preventDefault(); }
    else if (e.key === "Enter" || e.key === "Tab") { choose(active); e.preventDefault(); }
    else if (e.key === "Escape") { close(); }
  });

  document.addEventListener("focusout", function (e) { if (e.target === field) setTimeout(close, 150); });
})();

// Profile photo: crop the chosen picture to a square, scale it to 256 pixels and send it as
// a JPEG (the node keeps pictures small: they travel with the profile to every site).
(function () {
  "use strict";
  var input = document.querySelector("input[data-photo]");
  if (!input || !window.fetch || !window.URL) return;
  var error = document.getElementById("photo-error");
  function fail(msg) { if (error) { error.textContent = msg; error.hidden = false; } }
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    var img = new Image();
    img.onload = function () {
      var side = Math.min(img.naturalWidth, img.naturalHeight);
      var size = Math.min(256, side);
      var canvas = document.createElement("canvas");
      canvas.width = size; canvas.height = size;
      canvas.getContext("2d").drawImage(img, (img.naturalWidth - side) / 2, (img.naturalHeight - side) / 2, side, side, 0, 0, size, size);
      URL.revokeObjectURL(img.src);
      canvas.toBlob(function (blob) {
        if (!blob) return fail("?");
        fetch("/api/v1/me/photo", { method: "PUT", credentials: "same-origin", headers: { "Content-Type": "image/jpeg" }, body: blob })
          .then(function (r) {
            if (r.ok) { location.reload(); return; }
            return r.json().then(function (e) { fail(e.error && e.error.message || r.status); });
          })
          .catch(function (e) { fail(String(e)); });
      }, "image/jpeg", 0.85);
    };
    img.onerror = function () { fail(input.getAttribute("data-bad") || "Not an image"); };
    img.src = URL.createObjectURL(file);
  });
})();
