// Weft's file uploads: in a post form, the file field (marked data-upload) sends each file
// chosen to the node as soon as it is picked (POST /api/v1/files, with its name in
// X-File-Name, which is what lets a write with the session cookie through), shows its
// progress, and puts the stored files' ids in the form's hidden "attachments" field, so the
// post carries them when it is sent. The form cannot be sent while a file is on its way.
// Without this script the field is hidden and posts are sent without files.
(function () {
  "use strict";
  if (!window.XMLHttpRequest || !window.FormData) return;

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(0) + " KB";
    if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + " MB";
    return (n / 1024 / 1024 / 1024).toFixed(2) + " GB";
  }

  function setup(box) {
    var input = box.querySelector("input[type=file]");
    var hidden = box.querySelector("input[name=attachments]");
    var list = box.querySelector("ul.uploads");
    var pending = 0;
    var ids = [];
    box.hidden = false;
    box.dataset.ready = "1";
    box.dataset.pending = "0";

    // The form is looked up each time: a live update of the page may move this box into
    // a fresh copy of its form (live.js keeps it, uploads and all).
    function refresh() {
      hidden.value = ids.join(" ");
      box.dataset.pending = String(pending);
      var form = box.closest("form");
      var submit = form && form.querySelector("button[type=submit]:not(.link)");
      if (submit) submit.disabled = pending > 0;
    }

    function upload(file) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name + " (" + size(file.size) + ")";
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", box.dataset.uploading + " " + file.name);
      li.appendChild(name);
      li.appendChild(bar);
      list.appendChild(li);
      pending++;
      refresh();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/files");
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
      };
      xhr.onloadend = function () {
        pending--;
        bar.remove();
        var stored = null;
        try { stored = JSON.parse(xhr.responseText); } catch (e) { stored = null; }
        if (xhr.status === 201 && stored && stored.id) {
          ids.push(stored.id);
          li.dataset.id = stored.id;
          if (stored.thumbnail_url) {
            var img = document.createElement("img");
            img.src = stored.thumbnail_url;
            img.alt = "";
            img.className = "thumb";
            li.insertBefore(img, name);
          }
          var remove = document.createElement("button");
          remove.type = "button";
          remove.className = "link";
          remove.textContent = box.dataset.remove;
          remove.setAttribute("aria-label", box.dataset.remove + " " + file.name);
          remove.addEventListener("click", function () {
            ids = ids.filter(function (x) { return x !== stored.id; });
            li.remove();
            refresh();
          });
          li.appendChild(remove);
        } else {
          li.className = "error";
          var why = (stored && stored.error && stored.error.message) || (box.dataset.failed + " (" + xhr.status + ")");
          var msg = document.createElement("span");
          msg.setAttribute("role", "alert");
          msg.textContent = " " + why;
          li.appendChild(msg);
        }
        refresh();
      };
      xhr.send(file);
    }

    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, upload);
      input.value = "";
    });
  }

  // A form is not sent while one of its files is on its way.
  document.addEventListener("submit", function (e) {
    var box = e.target.querySelector && e.target.querySelector("[data-upload]");
    if (box && Number(box.dataset.pending) > 0) e.preventDefault();
  }, true);

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-upload]:not([data-ready])"), setup);
  }
  window.weftUploads = init;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
