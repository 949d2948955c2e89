// The panel's behaviour: revealing masked contact details, and Easemob's message sync
// (同步客户消息), which posts the customer's messages into this iframe.
// Everything received is shown with textContent, never as HTML.
(function () {
  "use strict";

  var panel = document.getElementById("panel");
  if (!panel) {
    return;
  }
  var config = JSON.parse(document.getElementById("panel-config").textContent);
  var strings = JSON.parse(document.getElementById("panel-strings").textContent);
  var MAX_MESSAGES = 5;
  var MAX_TEXT = 2000;
  var PHONE = /(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}/g;

  function form(extra) {
    var data = new URLSearchParams();
    data.set("t", panel.dataset.token);
    data.set("v", panel.dataset.visitor);
    data.set("lang", panel.dataset.lang);
    Object.keys(extra).forEach(function (key) { data.set(key, extra[key]); });
    return data;
  }

  function request(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var error = new Error(body.error || strings.failed);
          error.fields = body.fields;
          throw error;
        }
        return body;
      });
    });
  }

  // --- Reveal masked phone / email (each reveal is recorded server-side) -------------------
  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button.reveal");
    if (!button) {
      return;
    }
    var field = button.dataset.field;
    button.disabled = true;
    request(panel.dataset.revealUrl, { method: "POST", body: form({ field: field }) })
      .then(function (body) {
        var target = panel.querySelector('[data-value-of="' + field + '"]');
        target.textContent = body.value;
        target.classList.remove("masked");
        button.remove();
      })
      .catch(function (error) {
        button.disabled = false;
        button.textContent = error.message;
      });
  });

  // --- Actions: forms posted with the signed token; success reloads the panel ---------------
  var NOTICE_KEY = "crm-panel-notice";

  function showNotice(text, isError) {
    var notice = document.getElementById("notice");
    notice.textContent = text;
    notice.classList.toggle("error", Boolean(isError));
    notice.hidden = false;
  }

  try {
    var pending = window.sessionStorage.getItem(NOTICE_KEY);
    if (pending) {
      window.sessionStorage.removeItem(NOTICE_KEY);
      showNotice(pending, false);
    }
  } catch (e) {
    // Storage may be blocked in a third-party iframe; the reload shows the new state anyway.
  }

  function reloadWith(message) {
    try {
      window.sessionStorage.setItem(NOTICE_KEY, message);
    } catch (e) {
      // See above.
    }
    window.location.reload();
  }

  function postAction(url, fields) {
    var data = form({});
    fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
    return request(url, { method: "POST", body: data });
  }

  function showFormErrors(formElement, error) {
    var general = formElement.querySelector(".form-error");
    var overall = (error.fields && error.fields.__all__) || [];
    general.textContent = [error.message].concat(overall).join(" ");
    general.hidden = false;
    formElement.querySelectorAll(".field-error").forEach(function (element) {
      element.hidden = true;
    });
    Object.keys(error.fields || {}).forEach(function (name) {
      var label = formElement.querySelector('[data-field="' + name + '"] .field-error');
      if (label) {
        label.textContent = error.fields[name].join(" ");
        label.hidden = false;
      }
    });
  }

  panel.addEventListener("submit", function (event) {
    var formElement = event.target.closest("form.panel-action");
    if (!formElement) {
      return;
    }
    event.preventDefault();
    if (formElement.dataset.confirm && !window.confirm(formElement.dataset.confirm)) {
      return;
    }
    var button = formElement.querySelector("[type=submit]");
    button.disabled = true;
    var fields = [];
    new FormData(formElement).forEach(function (value, name) { fields.push([name, value]); });
    postAction(formElement.action, fields).then(function (body) {
      reloadWith(body.message || "");
    }).catch(function (error) {
      button.disabled = false;
      showFormErrors(formElement, error);
    });
  });

  var searchForm = document.getElementById("search-form");
  if (searchForm) {
    searchForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var results = document.getElementById("search-results");
      var searchError = document.getElementById("search-error");
      searchError.hidden = true;
      results.textContent = "";
      var url = panel.dataset.searchUrl + "?" + form({ q: searchForm.elements.q.value }).toString();
      request(url, { method: "GET" }).then(function (body) {
        if (!body.results.length) {
          searchError.textContent = body.message || strings.noResult;
          searchError.hidden = false;
        }
        body.results.forEach(function (customer) {
          var item = document.createElement("li");
          item.dataset.customer = customer.id;
          var who = document.createElement("span");
          who.className = "who";
          who.textContent = [customer.name, customer.phone, customer.email, customer.company]
            .filter(Boolean).join(" · ");
          item.appendChild(who);
          var button = document.createElement("button");
          button.type = "button";
          button.className = "button link-customer";
          button.textContent = strings.link;
          button.addEventListener("click", function () {
            button.disabled = true;
            postAction(panel.dataset.linkUrl, [["customer", String(customer.id)]])
              .then(function (result) { reloadWith(result.message || ""); })
              .catch(function (error) {
                button.disabled = false;
                searchError.textContent = error.message;
                searchError.hidden = false;
              });
          });
          item.appendChild(button);
          results.appendChild(item);
        });
      }).catch(function (error) {
        searchError.textContent = error.message;
        searchError.hidden = false;
      });
    });
  }

  // Copy an order number: the Clipboard API where the iframe may use it, else a selection.
  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    var text = button.dataset.copy;
    var done = function () {
      button.textContent = strings.copied;
    };
    var fallback = function () {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy");
        done();
      } catch (e) {
        window.prompt("", text);
      }
      document.body.removeChild(area);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  });

  // --- Message sync --------------------------------------------------------------------
  function originAllowed(origin) {
    return config.frameOrigins.some(function (allowed) {
      if (allowed === "'self'") {
        return origin === window.location.origin;
      }
      var wildcard = allowed.match(/^(https?:\/\/)\*\.(.+)$/);
      if (wildcard) {
        var prefix = wildcard[1];
        var suffix = "." + wildcard[2];
        return origin.indexOf(prefix) === 0 && origin.length > prefix.length + suffix.length &&
          origin.slice(-suffix.length) === suffix && origin.indexOf("/", prefix.length) === -1;
      }
      return origin === allowed;
    });
  }

  // Easemob's payload may be a string, a JSON string, or an object (an IM message with
  // bodies[].msg, or {msg|content|text: ...}); collect the text wherever it is.
  function textOf(data, depth) {
    if (depth > 5 || data === null || data === undefined) {
      return "";
    }
    if (typeof data === "string") {
      var trimmed = data.trim();
      if (depth === 0 && (trimmed[0] === "{" || trimmed[0] === "[")) {
        try {
          return textOf(JSON.parse(trimmed), depth + 1);
        } catch (e) {
          return data;
        }
      }
      return data;
    }
    if (typeof data === "number") {
      return String(data);
    }
    if (Array.isArray(data)) {
      return data.map(function (item) { return textOf(item, depth + 1); })
        .filter(Boolean).join("\n");
    }
    if (typeof data === "object") {
      var keys = ["msg", "content", "text", "message", "body", "bodies", "data", "payload"];
      for (var i = 0; i < keys.length; i++) {
        if (Object.prototype.hasOwnProperty.call(data, keys[i])) {
          var found = textOf(data[keys[i]], depth + 1);
          if (found) {
            return found;
          }
        }
      }
    }
    return "";
  }

  function findCandidates(text) {
    var found = [];
    var phones = text.match(PHONE) || [];
    phones.forEach(function (phone) {
      found.push({ kind: "phone", value: phone.replace(/[\s-]/g, "") });
    });
    var withoutPhones = text.replace(PHONE, " ");
    var orders = withoutPhones.match(new RegExp(config.orderPattern, "g")) || [];
    orders.forEach(function (number) {
      found.push({ kind: "order", value: number });
    });
    var seen = {};
    return found.filter(function (item) {
      if (seen[item.value]) {
        return false;
      }
      seen[item.value] = true;
      return true;
    });
  }

  function renderOrders(result, body) {
    result.textContent = "";
    var message = document.createElement("p");
    message.className = "muted small";
    message.textContent = body.message || "";
    if (body.message) {
      result.appendChild(message);
    }
    (body.orders || []).forEach(function (order) {
      var box = document.createElement("div");
      box.className = "order found-order";
      box.dataset.order = order.number;
      var head = document.createElement("div");
      [["order-number mono", order.number], ["status status-" + order.status, order.statusLabel],
        ["order-total", (order.currency === "CNY" ? "¥" : order.currency + " ") + order.total],
      ].forEach(function (part) {
        var span = document.createElement("span");
        span.className = part[0];
        span.textContent = part[1];
        head.appendChild(span);
        head.appendChild(document.createTextNode(" "));
      });
      box.appendChild(head);
      var items = document.createElement("p");
      items.className = "small";
      items.textContent = order.items.map(function (item) {
        return item.name + " × " + item.quantity;
      }).join(", ");
      box.appendChild(items);
      if (order.trackingNumber) {
        var shipment = document.createElement("p");
        shipment.className = "small muted";
        shipment.textContent = order.carrier + " " + order.trackingNumber;
        box.appendChild(shipment);
      }
      result.appendChild(box);
      var onPage = panel.querySelector('details.order[data-order="' + CSS.escape(order.number) + '"]');
      if (onPage) {
        onPage.open = true;
        onPage.classList.add("highlight");
      }
    });
  }

  function lookup(value) {
    var section = document.getElementById("messages");
    var result = section.querySelector(".lookup-result");
    result.textContent = "…";
    var url = panel.dataset.lookupUrl + "?" + form({ q: value }).toString();
    request(url, { method: "GET" })
      .then(function (body) {
        if (!(body.orders || []).length && !body.message) {
          body.message = strings.noResult;
        }
        renderOrders(result, body);
      })
      .catch(function (error) {
        result.textContent = error.message;
      });
  }

  function showMessage(text) {
    var section = document.getElementById("messages");
    var list = section.querySelector(".messages");
    var item = document.createElement("li");
    var body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    item.appendChild(body);
    findCandidates(text).forEach(function (candidate) {
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip lookup-chip";
      chip.dataset.kind = candidate.kind;
      chip.dataset.value = candidate.value;
      chip.textContent = strings.lookup + " " + candidate.value;
      chip.addEventListener("click", function () { lookup(candidate.value); });
      item.appendChild(chip);
    });
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_MESSAGES) {
      list.removeChild(list.lastChild);
    }
    section.hidden = false;
  }

  window.addEventListener("message", function (event) {
    if (!originAllowed(event.origin)) {
      return;
    }
    var text = textOf(event.data, 0).trim();
    if (text) {
      showMessage(text.slice(0, MAX_TEXT));
    }
  });
})();
