// harvester dashboard: live refresh of [data-live] regions, local times, the trigger and cancel
// buttons. Plain JS, no build.
(function () {
  "use strict";

  var REFRESH_MS = 2500;
  var body = document.body;
  // Set when HARVESTER_API_TOKEN is and this page was opened with a login: state-changing requests
  // send it as X-CSRF-Token (the session cookie itself is HttpOnly and goes along by itself).
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var liveState = document.getElementById("live-state");

  // -- live refresh: fetch each region's fragment URL and swap its content -------------------

  var refreshing = false;
  var again = false; // asked for while a refresh was under way: run once more after it

  function setOnline(online) {
    if (!liveState) return;
    liveState.hidden = !document.querySelector("[data-live]");
    liveState.classList.toggle("offline", !online);
    liveState.textContent = online ? "live" : "offline";
  }

  setOnline(true);

  // -- times: <time data-local> in the viewer's zone; the server's UTC text stays in the title ------

  function pad(n, width) {
    var text = String(n);
    while (text.length < (width || 2)) text = "0" + text;
    return text;
  }

  function zoneName(date) {
    try {
      var part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(date)
        .filter(function (p) { return p.type === "timeZoneName"; })[0];
      return part ? part.value : "";
    } catch (e) {
      return "";
    }
  }

  function localText(date, style) {
    var clock = pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
    if (style === "clock") return clock;
    var day = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
    return (day + " " + clock + " " + zoneName(date)).trim();
  }

  function localizeTimes(root) {
    var times = (root || document).querySelectorAll("time[data-local]");
    Array.prototype.forEach.call(times, function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      var style = el.getAttribute("data-local");
      var utc = el.getAttribute("data-utc") || el.getAttribute("title") || "";
      el.setAttribute("data-utc", utc);
      if (style === "ago") {
        el.title = localText(date, "abs") + " (" + utc + ")"; // the text stays relative
      } else {
        el.textContent = localText(date, style);
        el.title = style === "clock" ? localText(date, "abs") + " (" + utc + ")" : utc;
      }
    });
  }

  localizeTimes(document);

  // -- what a swap keeps: open <details> (by id) and the scroll of [data-keep-scroll] boxes ----------

  function keepState(region) {
    var state = { open: {}, scroll: {} };
    Array.prototype.forEach.call(region.querySelectorAll("details[id]"), function (d) {
      state.open[d.id] = d.open;
    });
    Array.prototype.forEach.call(region.querySelectorAll(".log-box[id]"), function (box) {
      var atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
      state.scroll[box.id] = { top: box.scrollTop, atEnd: atEnd };
    });
    return state;
  }

  function restoreState(region, state) {
    Array.prototype.forEach.call(region.querySelectorAll("details[id]"), function (d) {
      if (Object.prototype.hasOwnProperty.call(state.open, d.id)) d.open = state.open[d.id];
    });
    Array.prototype.forEach.call(region.querySelectorAll(".log-box[id]"), function (box) {
      var was = state.scroll[box.id];
      // at the end (or new): follow the newest line; scrolled up: stay where the reader is
      box.scrollTop = !was || was.atEnd ? box.scrollHeight : was.top;
    });
  }

  function showLatestLogs(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".log-box"), function (box) {
      box.scrollTop = box.scrollHeight;
    });
  }

  showLatestLogs(document);

  function refresh() {
    if (document.hidden) return Promise.resolve();
    if (refreshing) {
      again = true;
      return Promise.resolve();
    }
    var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
    if (!regions.length) return Promise.resolve();
    refreshing = true;
    return Promise.all(regions.map(function (region) {
      var url = region.getAttribute("data-live");
      return fetch(url, { cache: "no-store", headers: { Accept: "text/html" }, redirect: "manual" })
        .then(function (response) {
          if (response.type === "opaqueredirect" || response.status === 401) {
            window.location.reload(); // the login ended: the reload leads to the login form and back
            throw new Error("logged out");
          }
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          var state = keepState(region);
          region.innerHTML = html;
          localizeTimes(region);
          restoreState(region, state);
          if (region.querySelector("[data-live-done]")) region.removeAttribute("data-live");
          setOnline(true);
        });
    })).catch(function () {
      setOnline(false); // the server restarts or the network dropped: the next tick tries again
    }).then(function () {
      refreshing = false;
      if (again) {
        again = false;
        return refresh();
      }
    });
  }

  function tick() {
    refresh().then(function () { window.setTimeout(tick, REFRESH_MS); });
  }

  window.setTimeout(tick, REFRESH_MS);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });

  // -- toasts ------------------------------------------------------------------------------

  function toast(message, kind, link) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast" + (kind === "error" ? " error" : "");
    item.textContent = message;
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = "view";
      item.appendChild(a);
    }
    box.appendChild(item);
    window.setTimeout(function () { item.remove(); }, kind === "error" ? 9000 : 5000);
  }

  function problem(data, status) {
    var detail = data && data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map(function (d) { return d.msg || (d.loc || []).join("."); }).join("; ");
    }
    return "the API answered " + status;
  }

  // -- trigger: POST to the API with the page's CSRF token (the session cookie goes along) -------

  function post(name) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    return fetch(body.getAttribute("data-trigger-url"), {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({ collector: name, params: {}, async_mode: true, force: false }),
    });
  }

  function trigger(button) {
    var name = button.getAttribute("data-trigger");
    button.disabled = true;
    button.classList.add("busy");
    post(name)
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var hint = response.status === 401 ? " (reload the page to log in again)" : "";
            toast(name + ": " + problem(data, response.status) + hint, "error");
            return;
          }
          var runId = String(data.run_id || data.task_id || "");
          toast(name + ": run " + runId.slice(0, 8) + " " + (data.status || "queued"), "ok",
            body.getAttribute("data-run-url").replace("RUN_ID", encodeURIComponent(runId)));
          return refresh();
        });
      })
      .catch(function () { toast(name + ": the API did not answer", "error"); })
      .then(function () {
        button.disabled = false;
        button.classList.remove("busy");
      });
  }

  // -- cancel: confirm, then POST to the API's cancel route; the live refresh shows the outcome ------

  function cancel(button) {
    var runId = button.getAttribute("data-cancel");
    var name = button.getAttribute("data-collector") || "this collector";
    if (!window.confirm("Cancel run " + runId.slice(0, 8) + " of " + name + "?\n" +
        "A queued run never starts; a running one is stopped on its worker.")) return;
    var headers = { Accept: "application/json" };
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    button.disabled = true;
    button.classList.add("busy");
    fetch(button.getAttribute("data-cancel-url"), { method: "POST", headers: headers, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var hint = response.status === 401 ? " (reload the page to log in again)" : "";
            toast("run " + runId.slice(0, 8) + ": " + problem(data, response.status) + hint, "error");
          } else {
            toast("run " + runId.slice(0, 8) + " cancelled (was " + (data.was || "?") + ")", "ok");
          }
          return refresh();
        });
      })
      .catch(function () { toast("run " + runId.slice(0, 8) + ": the API did not answer", "error"); })
      .then(function () {
        button.disabled = false;
        button.classList.remove("busy");
      });
  }

  // Delegated: buttons are re-rendered by every refresh.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-trigger]");
    if (button && !button.disabled) {
      event.preventDefault();
      trigger(button);
      return;
    }
    var stop = event.target.closest && event.target.closest("button[data-cancel]");
    if (stop && !stop.disabled) {
      event.preventDefault();
      cancel(stop);
    }
  });

  // Filters apply as soon as a select changes.
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form) form.submit();
  });
})();
