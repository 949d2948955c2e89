// The workbench simulator: switches conversations the way Easemob reloads its iframe, sends a
// visitor app's updateVisitorInfoSrc cmd message (the server builds the encrypted URL), and
// forwards the visitor's chat messages into the panel with postMessage, as message sync does.
// A phone call is a conversation like the others: the call workbench loads the same iframe,
// with the call parameters in its URL.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("simulator-config").textContent);
  var strings = config.strings;
  var frame = document.getElementById("panel-frame");
  var frameUrl = document.getElementById("frame-url");
  var cmdParams = document.getElementById("cmd-params");
  var cmdEncrypt = document.getElementById("cmd-encrypt");
  var cmdMessage = document.getElementById("cmd-message");
  var sendCmd = document.getElementById("send-cmd");
  var chatForm = document.getElementById("chat-form");
  var chatInput = document.getElementById("chat-input");
  var chatAsString = document.getElementById("chat-as-string");
  var chatLog = document.getElementById("chat-log");
  var chatTitle = document.getElementById("chat-title");
  var errorBox = document.getElementById("sim-error");
  var callHint = document.getElementById("call-hint");
  var cmdHint = cmdMessage.textContent;

  var visitors = {};
  config.visitors.forEach(function (visitor) {
    visitors[visitor.visitorImId] = visitor;
  });
  // Each conversation's chat, kept while the page is open; it starts with what the visitor
  // wrote before the agent opened the conversation.
  var logs = {};
  var current = null;
  // The earlier messages to post once the panel this page asked for has loaded. Only loads
  // started here replay them: when the panel reloads itself, nothing is posted again.
  var pendingHistory = null;

  // Django's CSRF protection, with the admin session: the cookie's value in a header (the
  // page's own copy when the cookie is not readable from JavaScript).
  function csrfToken() {
    var cookies = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < cookies.length; i++) {
      var eq = cookies[i].indexOf("=");
      if (cookies[i].slice(0, eq) === config.csrfCookieName) {
        return decodeURIComponent(cookies[i].slice(eq + 1));
      }
    }
    return config.csrfToken;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  // The target origin is ours: the panel is served by this same server here.
  function postToPanel(text, from, asString) {
    var payload = asString ? text : { type: "txt", msg: text, from: from };
    frame.contentWindow.postMessage(payload, window.location.origin);
  }

  function postHistory(visitor) {
    visitor.history.forEach(function (text) {
      postToPanel(text, visitor.visitorImId, false);
    });
  }

  function loadFrame(url, withHistory) {
    pendingHistory = withHistory && withHistory.history.length ? withHistory : null;
    frame.src = url;
    frameUrl.textContent = new URL(url, window.location.href).href;
  }

  // Opening a conversation, message sync hands the panel what the visitor has written so far,
  // so that the panel can spot order numbers and phones in it at once.
  frame.addEventListener("load", function () {
    var visitor = pendingHistory;
    pendingHistory = null;
    if (visitor) {
      postHistory(visitor);
    }
  });

  function logOf(visitor) {
    if (!logs[visitor.visitorImId]) {
      logs[visitor.visitorImId] = visitor.history.map(function (text) {
        return { kind: "visitor", text: text };
      });
    }
    return logs[visitor.visitorImId];
  }

  function renderLog() {
    chatLog.textContent = "";
    logOf(current).forEach(function (entry) {
      var item = document.createElement("li");
      item.className = "chat-" + entry.kind;
      item.textContent = entry.text;
      chatLog.appendChild(item);
    });
    chatLog.scrollTop = chatLog.scrollHeight;
  }

  function addToLog(kind, text) {
    logOf(current).push({ kind: kind, text: text });
    renderLog();
  }

  function select(visitorImId) {
    var visitor = visitors[visitorImId];
    if (!visitor) {
      return;
    }
    current = visitor;
    document.querySelectorAll("li.conversation").forEach(function (item) {
      var active = item.dataset.visitor === visitorImId;
      item.classList.toggle("active", active);
      var button = item.querySelector("button");
      if (active) {
        button.setAttribute("aria-current", "true");
      } else {
        button.removeAttribute("aria-current");
      }
    });
    chatTitle.textContent = visitor.nickname;
    callHint.hidden = !visitor.call;
    chatInput.value = visitor.sampleMessage;
    cmdParams.value = JSON.stringify(visitor.suggestedParams, null, 2);
    cmdMessage.textContent = cmdHint;
    showError("");
    // Switching conversations loads the plain URL: what the app pushed earlier is the panel's
    // to remember, as with Easemob.
    loadFrame(visitor.frameUrl, visitor);
    ["zh", "en"].forEach(function (lang) {
      var link = document.getElementById("lang-" + lang);
      var params = new URLSearchParams({ lang: lang, visitor: visitorImId });
      link.href = "?" + params.toString();
    });
    var here = new URLSearchParams(window.location.search);
    here.set("visitor", visitorImId);
    window.history.replaceState(null, "", "?" + here.toString());
    renderLog();
  }

  document.getElementById("conversations").addEventListener("click", function (event) {
    var item = event.target.closest("li.conversation");
    if (item) {
      select(item.dataset.visitor);
    }
  });

  sendCmd.addEventListener("click", function () {
    var params;
    try {
      params = JSON.parse(cmdParams.value || "{}");
    } catch (e) {
      showError(strings.badJson);
      return;
    }
    showError("");
    sendCmd.disabled = true;
    fetch(config.frameUrlEndpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({
        visitor: current.visitorImId,
        params: params,
        encryptAppSide: Boolean(cmdEncrypt && cmdEncrypt.checked),
        lang: config.lang,
      }),
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            throw new Error(body.error || strings.failed);
          }
          return body;
        });
      })
      .then(function (body) {
        cmdMessage.textContent = JSON.stringify(body.cmdMessage, null, 2);
        loadFrame(body.url);
        addToLog("system", strings.cmdSent);
      })
      .catch(function (error) {
        showError(error.message || strings.failed);
      })
      .then(function () {
        sendCmd.disabled = false;
      });
  });

  chatForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = chatInput.value.trim();
    if (!text) {
      showError(strings.empty);
      return;
    }
    showError("");
    addToLog("visitor", text);
    postToPanel(text, current.visitorImId, chatAsString.checked);
    chatInput.value = "";
  });

  var selected = document.querySelector("li.conversation.active");
  current = visitors[selected.dataset.visitor];
  chatInput.value = current.sampleMessage;
  cmdParams.value = JSON.stringify(current.suggestedParams, null, 2);
  renderLog();
  // The page's own iframe may have finished loading before this script ran.
  if (current.history.length) {
    var loaded = frame.contentDocument;
    if (loaded && loaded.readyState === "complete" && loaded.URL !== "about:blank") {
      postHistory(current);
    } else {
      pendingHistory = current;
    }
  }
})();
