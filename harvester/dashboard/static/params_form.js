// harvester dashboard: the params form (trigger.html). Reads each input by its kind, posts the params
// to the API's trigger route, shows a 422 next to the field it names and opens the new run's page.
// Plain JS, no build.
(function () {
  "use strict";

  var form = document.querySelector("form[data-params-form]");
  if (!form) return;
  var body = document.body;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var submit = form.querySelector("button[type=submit]");
  var formError = form.querySelector("[data-form-error]");

  function fields() {
    return Array.prototype.slice.call(form.querySelectorAll("[data-field]"));
  }

  function fieldNamed(name) {
    return fields().filter(function (f) { return f.getAttribute("data-field") === name; })[0] || null;
  }

  // -- errors: under their field, or above the form -------------------------------------------

  function showError(field, message) {
    var box = field.querySelector("[data-error]");
    box.textContent = box.hidden ? message : box.textContent + " " + message;
    box.hidden = false;
    field.classList.add("invalid");
    field.querySelector("[data-param]").setAttribute("aria-invalid", "true");
  }

  function showFormError(message) {
    formError.textContent = message;
    formError.hidden = false;
  }

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = "";
    fields().forEach(function (field) {
      var box = field.querySelector("[data-error]");
      box.hidden = true;
      box.textContent = "";
      field.classList.remove("invalid");
      field.querySelector("[data-param]").removeAttribute("aria-invalid");
    });
  }

  function focusFirstError() {
    var first = form.querySelector(".invalid [data-param]");
    if (first) first.focus();
    else if (!formError.hidden) formError.scrollIntoView({ block: "nearest" });
  }

  // -- reading: JSON types, strictly (the API does not turn "3" into 3) -------------------------

  function read(input) {
    var kind = input.getAttribute("data-kind");
    if (kind === "bool") return { value: input.checked };
    if (input.validity && input.validity.badInput) return { error: "Enter a number." };
    var raw = kind === "text" || kind === "secret" ? input.value : input.value.trim();
    if (raw === "") return { skip: true }; // left out: the default applies (or the API says it is required)
    if (kind === "int" || kind === "float") {
      var number = Number(raw);
      return isFinite(number) ? { value: number } : { error: "Enter a number." };
    }
    if (kind === "choice" || kind === "json") {
      try {
        return { value: JSON.parse(raw) };
      } catch (e) {
        return { error: "This is not valid JSON (" + e.message + ")." };
      }
    }
    return { value: raw };
  }

  function collect() {
    var params = {};
    var ok = true;
    fields().forEach(function (field) {
      var got = read(field.querySelector("[data-param]"));
      if (got.error) {
        showError(field, got.error);
        ok = false;
      } else if (!got.skip) {
        params[field.getAttribute("data-field")] = got.value;
      }
    });
    return ok ? params : null;
  }

  // -- the API's answer --------------------------------------------------------------------------

  function problems(detail) {
    var rest = [];
    detail.forEach(function (problem) {
      var loc = problem.loc || [];
      var msg = String(problem.msg || "invalid");
      var field = loc[0] === "body" && loc[1] === "params" && loc.length > 2 ? fieldNamed(String(loc[2])) : null;
      if (!field) {
        rest.push(msg);
        return;
      }
      var prefix = loc.slice(2).join(".") + ": "; // the API names the field in the message too
      showError(field, loc.length === 3 && msg.indexOf(prefix) === 0 ? msg.slice(prefix.length) : msg);
    });
    if (rest.length) showFormError(rest.join("; "));
  }

  function refused(status, data) {
    var detail = data && data.detail;
    if (status === 422 && Array.isArray(detail)) problems(detail);
    else if (status === 401) showFormError("Your login has ended: reload the page to log in again.");
    else showFormError(typeof detail === "string" ? detail : "The API answered " + status + ".");
    focusFirstError();
  }

  function busy(on) {
    submit.disabled = on;
    submit.classList.toggle("busy", on);
  }

  function send(params) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    var force = form.querySelector("[data-force]");
    busy(true);
    return fetch(body.getAttribute("data-trigger-url"), {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({
        collector: form.getAttribute("data-collector"),
        params: params,
        async_mode: true,
        force: Boolean(force && force.checked),
      }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok && data.run_id) {
          window.location.assign(body.getAttribute("data-run-url").replace("RUN_ID", encodeURIComponent(data.run_id)));
          return;
        }
        busy(false);
        refused(response.status, data);
      });
    }, function () {
      busy(false);
      showFormError("The API did not answer: try again.");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var params = collect();
    if (params === null) focusFirstError();
    else send(params);
  });
})();
