// tensorgrade pages: upload with a progress bar, then follow the grading until the report is ready.
// Everything works without this script too (plain form post, and a reload link on pending pages).
"use strict";

(function () {
  var STATUS_TEXT = {
    queued: "Uploaded. Waiting for a grader…",
    running: "The grader is running the tests…",
    graded: "Graded. Opening the report…",
    error: "Grading failed. Opening the details…"
  };

  function poll(statusUrl, intervalMs, onUpdate) {
    var failures = 0;
    function tick() {
      fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (body) {
          failures = 0;
          if (!onUpdate(body)) { window.setTimeout(tick, intervalMs); }
        })
        .catch(function () {
          failures += 1;
          window.setTimeout(tick, Math.min(intervalMs * Math.pow(2, failures), 30000));
        });
    }
    tick();
  }

  function enhanceUpload(form) {
    var box = form.querySelector(".upload-progress");
    var bar = form.querySelector("progress");
    var label = form.querySelector(".upload-label");
    var message = form.querySelector(".poll-status");
    var button = form.querySelector("button[type=submit]");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("alert", !!isError);
      message.classList.toggle("alert-error", !!isError);
    }

    form.addEventListener("submit", function (event) {
      var file = form.querySelector("input[type=file]").files[0];
      if (!file || !window.XMLHttpRequest || !window.FormData) { return; }
      event.preventDefault();
      box.hidden = false;
      if (maxBytes && file.size > maxBytes) {
        say("This file is " + file.size + " bytes; the limit is " + maxBytes + ".", true);
        return;
      }
      button.disabled = true;
      bar.value = 0;
      bar.max = 100;
      label.textContent = "Uploading " + file.name;
      say("Uploading…", false);
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) { bar.value = Math.round(100 * progress.loaded / progress.total); }
      });
      request.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(request.responseText); } catch (ignored) { body = {}; }
        if (request.status !== 202) {
          button.disabled = false;
          say(body.detail || ("The upload was refused (HTTP " + request.status + ")."), true);
          return;
        }
        label.textContent = "Grading submission " + body.id;
        bar.removeAttribute("value");  // indeterminate while the grader works
        say(STATUS_TEXT.queued, false);
        poll(body.status_url, 1500, function (status) {
          say(STATUS_TEXT[status.status] || status.status, false);
          if (status.done) { window.location.assign(status.url); }
          return status.done;
        });
      });
      request.addEventListener("error", function () {
        button.disabled = false;
        say("The upload did not reach the server. Check your connection and try again.", true);
      });
      request.send(new FormData(form));
    });
  }

  function followPending(section) {
    var message = section.querySelector(".poll-status");
    var interval = 1000 * (parseFloat(section.getAttribute("data-interval")) || 2);
    poll(section.getAttribute("data-poll"), interval, function (status) {
      if (STATUS_TEXT[status.status] && !status.done) { message.textContent = STATUS_TEXT[status.status]; }
      if (status.done) { window.location.reload(); }
      return status.done;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form.upload-form"), enhanceUpload);
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), followPending);
  });
})();
