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

// Inbox: show one language only (?language=es in the address, so the choice can be bookmarked).
// Works in the page, whatever the server filtered.
(function () {
  var filter = document.getElementById("language");
  if (!filter) return;
  var chosen = new URLSearchParams(window.location.search).get("language") || "";
  if (chosen === "en" || chosen === "es") filter.value = chosen;
  function apply() {
    var shown = 0;
    document.querySelectorAll("[data-testid=inbox-item]").forEach(function (item) {
      item.hidden = filter.value !== "" && item.dataset.language !== filter.value;
      if (!item.hidden) shown += 1;
    });
    document.getElementById("language-empty").hidden = shown > 0 || filter.value === "";
  }
  filter.addEventListener("change", function () {
    var url = new URL(window.location.href);
    if (filter.value) url.searchParams.set("language", filter.value);
    else url.searchParams.delete("language");
    url.searchParams.delete("notice");
    window.history.replaceState(null, "", url);
    apply();
  });
  apply();
})();
