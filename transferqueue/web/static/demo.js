// The transferqueue demo page: starts sample jobs and follows every job through
// /transfers/events. Data from the server only ever reaches the page as textContent
// or attribute values, never as HTML.
"use strict";

(function () {
  const TITLES = { copy: "Sample files", failing: "With a missing file", slow: "Slow copy" };
  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  const jobList = document.querySelector("[data-testid=jobs]");
  const empty = document.querySelector("[data-testid=empty]");
  const connection = document.querySelector("[data-testid=connection]");
  const startError = document.querySelector("[data-testid=start-error]");
  const jobTemplate = document.getElementById("job-template");
  const fileTemplate = document.getElementById("file-template");
  const cards = new Map(); // job id -> its <li>
  const jobs = new Map(); // job id -> the job as its messages rebuild it

  function formatBytes(bytes) {
    let value = bytes;
    let unit = 0;
    // From 1000 up the next unit reads better: "1.0 MiB", not "1021 KiB".
    while (value >= 1000 && unit < UNITS.length - 1) {
      value /= 1024;
      unit += 1;
    }
    const digits = unit === 0 || value >= 100 ? 0 : 1;
    return value.toFixed(digits) + " " + UNITS[unit];
  }

  function formatSeconds(seconds) {
    const whole = Math.max(0, Math.round(seconds));
    if (whole < 1) return "< 1 s";
    if (whole < 60) return whole + " s";
    const minutes = Math.floor(whole / 60);
    if (minutes < 60) return minutes + " min " + (whole % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function baseName(path) {
    const parts = String(path).split(/[\\/]/);
    return parts[parts.length - 1];
  }

  // The demo puts each job's files in a folder named "<kind>-<number>".
  function jobTitle(job) {
    const first = job.files[0];
    if (first) {
      for (const part of String(first.sourcePath).split(/[\\/]/)) {
        const match = /^([a-z]+)-(\d+)$/.exec(part);
        if (match && Object.prototype.hasOwnProperty.call(TITLES, match[1])) {
          return TITLES[match[1]] + " #" + match[2];
        }
      }
    }
    return job.type;
  }

  // Not finished: a job that may still be paused, resumed or cancelled.
  function isActive(status) {
    return status === "queued" || status === "active" || status === "paused";
  }

  function setText(element, text) {
    element.textContent = text;
    element.hidden = text === "";
  }

  function renderFile(row, file) {
    row.dataset.status = file.status;
    const name = row.querySelector(".name");
    name.textContent = baseName(file.sourcePath);
    name.title = file.sourcePath + " → " + file.destinationPath;
    const status = row.querySelector(".file-status");
    status.textContent = file.status;
    status.dataset.status = file.status;
    // A skipped file's destination was already up to date: nothing of it moves.
    row.querySelector(".file-bytes").textContent = file.status === "skipped"
      ? formatBytes(file.size) + " up to date"
      : formatBytes(file.loaded) + " / " + formatBytes(file.size);
    setText(row.querySelector(".file-error"), file.error || "");
  }

  // The rows of the files at `indexes` (of every file when null).
  function renderFiles(card, job, indexes) {
    const list = card.querySelector(".files");
    while (list.children.length > job.files.length) list.lastElementChild.remove();
    const due = indexes === null ? job.files.map(function (_, index) { return index; }) : indexes.slice();
    // Rows the list lacks are made and filled, whatever changed.
    for (let index = list.children.length; index < job.files.length; index += 1) {
      list.appendChild(fileTemplate.content.firstElementChild.cloneNode(true));
      if (indexes !== null) due.push(index);
    }
    for (const index of due) renderFile(list.children[index], job.files[index]);
  }

  // A job message (docs/howto/flask.rst, "The messages"): {"job": JOB} with the whole job, or
  // {"job": TOTALS, "changedFiles": [{"index": I, "file": FILE}, ...]}: the job without
  // its files, and the files that changed since the message before. Returns the job
  // rebuilt, and the indexes of the files to show again (null: all of them).
  function apply(message) {
    const job = message.job;
    if (Array.isArray(job.files)) {
      jobs.set(job.id, job);
      return { job: job, indexes: null };
    }
    const known = jobs.get(job.id);
    if (!known) return null; // never sent whole: cannot happen on one stream
    job.files = known.files;
    const indexes = [];
    for (const change of message.changedFiles) {
      job.files[change.index] = change.file;
      indexes.push(change.index);
    }
    jobs.set(job.id, job);
    return { job: job, indexes: indexes };
  }

  function show(message) {
    const rebuilt = apply(message);
    if (rebuilt) render(rebuilt.job, rebuilt.indexes);
  }

  function render(job, indexes) {
    let card = cards.get(job.id);
    if (!card) {
      card = jobTemplate.content.firstElementChild.cloneNode(true);
      card.dataset.jobId = job.id;
      const title = card.querySelector(".job-title");
      title.textContent = jobTitle(job);
      title.title = job.id;
      const cancel = card.querySelector(".cancel");
      cancel.setAttribute("aria-label", "Cancel " + title.textContent);
      cancel.addEventListener("click", function () { cancelJob(job.id, cancel); });
      const pause = card.querySelector(".pause");
      pause.addEventListener("click", function () {
        pauseOrResume(job.id, pause, cards.get(job.id).dataset.status === "paused" ? "resume" : "pause");
      });
      card.querySelector(".bar").setAttribute("aria-label", "Progress of " + title.textContent);
      cards.set(job.id, card);
      jobList.prepend(card); // newest first
      empty.hidden = true;
    }
    const progress = job.progress;
    card.dataset.status = job.status;
    const badge = card.querySelector(".job-status");
    badge.textContent = job.status;
    badge.dataset.status = job.status;
    card.querySelector(".cancel").hidden = !isActive(job.status);
    const pause = card.querySelector(".pause");
    pause.hidden = !isActive(job.status);
    pause.textContent = job.status === "paused" ? "Resume" : "Pause";
    pause.setAttribute("aria-label", pause.textContent + " " + card.querySelector(".job-title").textContent);

    const bar = card.querySelector(".bar");
    bar.setAttribute("aria-valuenow", String(progress.percentage));
    bar.setAttribute("aria-valuetext", progress.percentage + "%");
    bar.querySelector(".bar-fill").style.width = progress.percentage + "%";

    card.querySelector(".bytes").textContent =
      formatBytes(progress.loadedBytes) + " of " + formatBytes(progress.totalBytes);
    card.querySelector(".percent").textContent = progress.percentage + "%";
    card.querySelector(".files-count").textContent =
      progress.completedFiles + " of " + progress.totalFiles + " files" +
      (progress.failedFiles ? ", " + progress.failedFiles + " failed" : "") +
      (progress.skippedFiles ? ", " + progress.skippedFiles + " up to date" : "");
    const running = job.status === "active";
    setText(card.querySelector(".speed"),
      running && progress.bytesPerSecond != null ? formatBytes(progress.bytesPerSecond) + "/s" : "");
    setText(card.querySelector(".eta"),
      running && progress.etaSeconds != null ? formatSeconds(progress.etaSeconds) + " left" : "");
    setText(card.querySelector(".job-error"), job.error || "");
    renderFiles(card, job, indexes);
  }

  function cancelJob(jobId, button) {
    button.disabled = true;
    fetch("/transfers/" + encodeURIComponent(jobId), { method: "DELETE" })
      .then(function (response) {
        // 409: it finished meanwhile; its last update is on its way anyway.
        if (!response.ok && response.status !== 409) showStartError("Cancel failed: HTTP " + response.status);
      })
      .catch(function (error) { showStartError("Cancel failed: " + error.message); })
      .finally(function () { button.disabled = false; });
  }

  // PUT, like the cancel's DELETE, is no method a cross-site form can send. The new
  // status arrives through the event stream, in order with the job's other updates.
  function pauseOrResume(jobId, button, action) {
    button.disabled = true;
    const label = action === "pause" ? "Pause" : "Resume";
    fetch("/transfers/" + encodeURIComponent(jobId) + "/" + action, { method: "PUT" })
      .then(function (response) {
        // 409: it finished meanwhile; its last update is on its way anyway.
        if (!response.ok && response.status !== 409) showStartError(label + " failed: HTTP " + response.status);
      })
      .catch(function (error) { showStartError(label + " failed: " + error.message); })
      .finally(function () { button.disabled = false; });
  }

  function showStartError(text) {
    setText(startError, text);
  }

  function startJob(button) {
    button.disabled = true;
    showStartError("");
    // The new job appears through the event stream ("created"), in order with its
    // updates; rendering this response too could show an older state after a newer one.
    // A JSON body, which no cross-site form can send: the demo refuses other starts.
    fetch("/demo/" + encodeURIComponent(button.dataset.kind), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    })
      .then(function (response) {
        if (!response.ok) showStartError("Could not start the job: HTTP " + response.status);
      })
      .catch(function (error) { showStartError("Could not start the job: " + error.message); })
      .finally(function () { button.disabled = false; });
  }

  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  for (const button of document.querySelectorAll("button[data-kind]")) {
    button.addEventListener("click", function () { startJob(button); });
  }

  // One stream for every job: each job whole first, then what changed. EventSource
  // reconnects by itself after an error, and the server then sends the whole list again
  // ("jobs").
  const events = new EventSource("/transfers/events");
  events.addEventListener("open", function () { setConnection("live", "Live"); });
  events.addEventListener("error", function () {
    // CLOSED: refused (an HTTP error), so EventSource gives up; otherwise it retries.
    if (events.readyState === EventSource.CLOSED) setConnection("closed", "Disconnected");
    else setConnection("connecting", "Reconnecting…");
  });
  events.addEventListener("jobs", function (event) {
    for (const job of JSON.parse(event.data)) show({ job: job });
  });
  events.addEventListener("created", function (event) { show(JSON.parse(event.data)); });
  events.addEventListener("updated", function (event) { show(JSON.parse(event.data)); });
  window.addEventListener("pagehide", function () { events.close(); });
})();
