// Retrain page: poll the job's progress and reload when it finishes, so the result shows.
(function () {
  var progress = document.getElementById("progress");
  if (!progress || progress.dataset.running !== "yes") return;
  var timer = setInterval(function () {
    fetch(progress.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (reply) { return reply.json(); })
      .then(function (status) {
        progress.textContent = status.lines.join("\n");
        if (!status.running) { clearInterval(timer); window.location.reload(); }
      })
      .catch(function () { /* keep polling: the bot may be busy loading a model */ });
  }, 2000);
})();
