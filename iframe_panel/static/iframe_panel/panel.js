// The panel's behaviour: revealing masked contact details, the agent's actions, and Easemob's
// message sync (同步客户消息), which posts the customer's messages into this iframe.
// Everything received from the workbench is shown with textContent, never as HTML; the only
// HTML inserted is what our own actions answer, rendered by the page's templates (actions.py
// says why fragments fetched here rather than htmx).
(function () {
  "use strict";

  var panel = document.getElementById("panel");
  if (!panel) {
    return;
  }
  var config = JSON.parse(document.getElementById("panel-config").textContent);
  var strings = JSON.parse(document.getElementById("panel-strings").textContent);
  var LATEST_MESSAGES = 3;
  var MAX_MESSAGES = 20;
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
        var target = panel.querySelector('[data-value-of="' + CSS.escape(field) + '"]');
        target.textContent = body.value;
        target.classList.remove("masked");
        button.remove();
      })
      .catch(function (error) {
        button.disabled = false;
        button.textContent = error.message;
      });
  });

  // --- Long remarks: folded to three lines until clicked (the fold is only CSS) --------------
  function foldRemarks() {
    panel.querySelectorAll("dd.remarks").forEach(function (remarks) {
      remarks.classList.add("folded");
      if (remarks.scrollHeight <= remarks.clientHeight) {
        remarks.classList.remove("folded");
        return;
      }
      remarks.tabIndex = 0;
      remarks.setAttribute("aria-expanded", "false");
    });
  }
  foldRemarks();

  function unfold(event) {
    var remarks = event.target.closest("dd.remarks.folded");
    if (remarks && (event.type === "click" || event.key === "Enter")) {
      remarks.classList.remove("folded");
      remarks.setAttribute("aria-expanded", "true");
    }
  }
  panel.addEventListener("click", unfold);
  panel.addEventListener("keydown", unfold);

  // --- Actions: forms posted with the signed token; the answer's fragment swapped in place -----
  // Where the agent is looking: next to what they just did.
  function showNotice(text, isError, near, position) {
    var notice = document.getElementById("notice");
    if (!notice) {
      notice = document.createElement("p");
      notice.id = "notice";
      notice.className = "notice";
      notice.setAttribute("role", "status");
    }
    notice.textContent = text;
    notice.classList.toggle("error", Boolean(isError));
    notice.hidden = !text;
    if (near) {
      near.insertAdjacentElement(position || "afterend", notice);
      notice.scrollIntoView({ block: "nearest" });
    }
  }

  function postAction(url, fields) {
    var data = form({});
    fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
    return request(url, { method: "POST", body: data });
  }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content.firstElementChild;
  }

  // Link, create and unlink answer the visitor part for the customer it now shows, and the
  // token for its actions. The synced messages live only in this page: the live card moves
  // into the new part, its lookups cleared (they were answered for the previous customer).
  function swapVisitor(body) {
    panel.dataset.token = body.token;
    var fresh = fragment(body.visitor);
    var messages = document.getElementById("messages");
    fresh.querySelector("#messages").replaceWith(messages);
    messages.querySelector(".lookup-result").textContent = "";
    document.getElementById("visitor").replaceWith(fresh);
    var bound = document.getElementById("bound-notice");
    if (bound) {
      bound.remove();
    }
    foldRemarks();
    var head = fresh.querySelector("#customer, #unknown-visitor");
    showNotice(body.message || "", false, head, "beforebegin");
    respot();
  }

  function applyResult(formElement, body) {
    if (body.visitor) {
      swapVisitor(body);
      return;
    }
    if (body.notes !== undefined) {
      document.getElementById("note-list").innerHTML = body.notes;
    }
    formElement.reset();
    showNotice(body.message || "", false, formElement);
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
    formElement.querySelector(".form-error").hidden = true;
    var fields = [];
    new FormData(formElement).forEach(function (value, name) { fields.push([name, value]); });
    postAction(formElement.action, fields).then(function (body) {
      button.disabled = false;
      applyResult(formElement, body);
    }).catch(function (error) {
      button.disabled = false;
      showFormErrors(formElement, error);
    });
  });

  // Customers found by the search form or by a lookup, each with "Link to this visitor".
  function renderCustomers(list, customers) {
    list.textContent = "";
    customers.forEach(function (customer) {
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
      button.dataset.customer = customer.id;
      button.textContent = strings.link;
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button.link-customer");
    if (!button) {
      return;
    }
    var list = button.closest("ul");
    var error = list.parentElement.querySelector(".link-error");
    button.disabled = true;
    postAction(panel.dataset.linkUrl, [["customer", button.dataset.customer]])
      .then(swapVisitor)
      .catch(function (failure) {
        button.disabled = false;
        error.textContent = failure.message;
        error.hidden = false;
      });
  });

  panel.addEventListener("submit", function (event) {
    var searchForm = event.target.closest("#search-form");
    if (!searchForm) {
      return;
    }
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
      renderCustomers(results, body.results);
    }).catch(function (error) {
      searchError.textContent = error.message;
      searchError.hidden = false;
    });
  });

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

  // The order numbers of the customer shown, from the page's recent orders: always spotted,
  // whatever the configured pattern says.
  function customerOrderNumbers() {
    return Array.prototype.map.call(panel.querySelectorAll("details.order[data-order]"),
      function (order) { return order.dataset.order; });
  }

  function findCandidates(text) {
    var found = [];
    var phones = text.match(PHONE) || [];
    phones.forEach(function (phone) {
      found.push({ kind: "phone", value: phone.replace(/[\s-]/g, "") });
    });
    var withoutPhones = text.replace(PHONE, " ");
    var upper = withoutPhones.toUpperCase();
    customerOrderNumbers().forEach(function (number) {
      if (upper.indexOf(number.toUpperCase()) !== -1) {
        found.push({ kind: "order", value: number });
      }
    });
    var orders = withoutPhones.match(new RegExp(config.orderPattern, "g")) || [];
    orders.forEach(function (number) {
      found.push({ kind: "order", value: number });
    });
    var seen = {};
    return found.filter(function (item) {
      var key = item.value.toUpperCase();
      if (seen[key]) {
        return false;
      }
      seen[key] = true;
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
        if (!(body.orders || []).length && !(body.results || []).length && !body.message) {
          body.message = strings.noResult;
        }
        renderOrders(result, body);
        if ((body.results || []).length) {
          var list = document.createElement("ul");
          list.className = "results";
          renderCustomers(list, body.results);
          result.appendChild(list);
          var error = document.createElement("p");
          error.className = "form-error link-error";
          error.hidden = true;
          result.appendChild(error);
        }
      })
      .catch(function (error) {
        result.textContent = error.message;
      });
  }

  // A chip for each phone or order number spotted in a message and not chipped yet: called
  // when the message arrives, and again once a link shows another customer's orders.
  function addChips(item) {
    var text = item.querySelector(".text").textContent;
    findCandidates(text).forEach(function (candidate) {
      var chipped = Array.prototype.some.call(item.querySelectorAll(".lookup-chip"),
        function (chip) { return chip.dataset.value.toUpperCase() === candidate.value.toUpperCase(); });
      if (chipped) {
        return;
      }
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip lookup-chip";
      chip.dataset.kind = candidate.kind;
      chip.dataset.value = candidate.value;
      chip.textContent = strings.lookup + " " + candidate.value;
      chip.addEventListener("click", function () { lookup(candidate.value); });
      item.appendChild(chip);
    });
  }

  function respot() {
    document.querySelectorAll("#messages .messages li").forEach(addChips);
  }

  // The latest few messages in view, older ones folded under "Earlier messages".
  function showMessage(text) {
    var section = document.getElementById("messages");
    var latest = section.querySelector(".messages.latest");
    var earlier = section.querySelector(".earlier");
    var older = earlier.querySelector(".messages");
    var item = document.createElement("li");
    var body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    item.appendChild(body);
    addChips(item);
    latest.insertBefore(item, latest.firstChild);
    while (latest.children.length > LATEST_MESSAGES) {
      older.insertBefore(latest.lastElementChild, older.firstChild);
    }
    while (latest.children.length + older.children.length > MAX_MESSAGES) {
      older.removeChild(older.lastElementChild);
    }
    earlier.hidden = !older.children.length;
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
