// harvester dashboard: live refresh of [data-live] regions and the trigger buttons. Plain JS, no build.
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
          region.innerHTML = html;
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

  // Delegated: buttons are re-rendered by every refresh.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-trigger]");
    if (button && !button.disabled) {
      event.preventDefault();
      trigger(button);
    }
  });

  // Filters apply as soon as a select changes.
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form) form.submit();
  });
})();
