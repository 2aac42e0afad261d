// meta-mcp console: live views (server-sent events from /ui/events) and the chat (the chat API's /sse/chat).
// No build step; htmx handles the forms. Everything shown that came from a server is set as text, never HTML,
// except the fragments /ui/events sends, which meta-mcp rendered (and escaped) itself.
(function () {
  "use strict";
  const body = document.body;
  const base = body.dataset.base;
  const wsQuery = body.dataset.wsQuery || "";

  function note(text) {
    const el = document.getElementById("live-note");
    if (el && text) el.textContent = text;
  }

  // -- live views ------------------------------------------------------------------------------------
  function swap(target, html) {
    if (target.dataset.html === html) return;
    target.dataset.html = html;
    const active = document.activeElement;
    const focusId = active && target.contains(active) ? active.id : null;
    const open = Array.from(target.querySelectorAll("details[open][id]")).map((d) => d.id);
    target.innerHTML = html;
    open.forEach((id) => { const d = document.getElementById(id); if (d) d.open = true; });
    if (window.htmx) window.htmx.process(target);
    if (focusId) { const el = document.getElementById(focusId); if (el) el.focus(); }
    const summary = target.querySelector("[data-summary]");
    if (summary) note(summary.textContent);
  }

  const live = Array.from(document.querySelectorAll("[data-live]"));
  if (live.length && window.EventSource) {
    // Each view says which version of it the page shows: the stream sends only what changed since.
    const query = live.map((el) => "view=" + encodeURIComponent(el.dataset.live) + "&" +
      encodeURIComponent(el.dataset.live) + "=" + encodeURIComponent(el.dataset.version || "-1")).join("&");
    const source = new EventSource(base + "/events?" + query + (wsQuery ? "&" + wsQuery : ""));
    source.onopen = () => { body.dataset.live = "open"; };
    source.onerror = () => { body.dataset.live = "reconnecting"; };
    live.forEach((el) => source.addEventListener(el.dataset.live, (event) => swap(el, event.data)));
  }

  // After an in-place tool call, move focus to its result so keyboard and screen-reader users find it.
  document.addEventListener("htmx:afterSwap", (event) => {
    const result = event.detail.target && event.detail.target.querySelector("#result");
    if (result) result.focus();
    const outcome = event.detail.target && event.detail.target.querySelector("#add-outcome");
    if (outcome) note(outcome.textContent.trim());
  });

  // -- chat ------------------------------------------------------------------------------------------
  const chat = document.querySelector("[data-chat]");
  if (!chat) return;
  const log = document.getElementById("chat-log");
  const status = document.getElementById("chat-status");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const mode = document.getElementById("chat-mode");
  const send = document.getElementById("chat-send");
  let history = [];
  let busy = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function add(node) {
    const item = el("li");
    item.appendChild(node);
    log.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
    return node;
  }
  function pretty(value) {
    if (typeof value === "string") return value;
    try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
  }

  let answer = null;      // the assistant bubble being streamed into
  let streamed = "";
  const calls = {};       // tool call id → its bubble

  function onEvent(type, data) {
    if (type === "status") { status.textContent = data.message || ""; return; }
    if (type === "iteration") { status.textContent = "Step " + data.iteration + "…"; answer = null; return; }
    if (type === "content") {
      if (!answer) { answer = add(el("div", "msg assistant")); streamed = ""; }
      streamed += data.delta || "";
      answer.textContent = streamed;
      return;
    }
    if (type === "tool_call") {
      const box = add(el("details", "msg tool"));
      box.open = false;
      box.dataset.tool = data.name;
      const summary = el("summary", null, "Tool call " + data.name);
      box.appendChild(summary);
      box.appendChild(el("pre", null, pretty(data.arguments)));
      calls[data.id] = box;
      answer = null;
      return;
    }
    if (type === "tool_result" || type === "tool_error") {
      const box = calls[data.id] || add(el("details", "msg tool"));
      const failed = type === "tool_error";
      box.classList.add(failed ? "failed" : "done");
      box.querySelector("summary").textContent =
        (failed ? "Tool failed " : "Tool result ") + data.name + (data.ms !== undefined ? " (" + data.ms + " ms)" : "");
      box.appendChild(el("pre", "result-text", pretty(data.content)));
      return;
    }
    if (type === "config_required") { showConfig(data); return; }
    if (type === "secrets_required") { showSecrets(data); return; }
    if (type === "error") {
      add(el("div", "msg stop", "Error" + (data.status ? " " + data.status : "") + ": " + (data.error || "failed")));
      return;
    }
    if (type === "done") {
      if (!data.interrupt_type) {
        const content = data.content || "";
        if (!answer && content) answer = add(el("div", "msg assistant", content));
        history.push({ role: "assistant", content: content });
        status.textContent = "Done" + (data.finish_reason && data.finish_reason !== "stop" ? " (" + data.finish_reason + ")" : "") + ".";
      } else {
        status.textContent = "Waiting for you.";
      }
      answer = null;
    }
  }

  function showSecrets(data) {
    const box = add(el("div", "msg stop"));
    box.setAttribute("role", "alert");
    box.appendChild(el("p", null, "Server " + (data.server || "") + " needs secrets that are not set."));
    const list = el("ul");
    (data.required_secrets || []).forEach((s) => {
      const item = el("li");
      item.appendChild(el("code", null, s.env || s.name));
      item.appendChild(document.createTextNode(s.description ? " — " + s.description : ""));
      list.appendChild(item);
    });
    box.appendChild(list);
    box.appendChild(el("p", null, data.instructions || ""));
  }

  let formCount = 0;
  function showConfig(data) {
    formCount += 1;
    const box = add(el("form", "msg interrupt"));
    box.setAttribute("aria-label", "Config for " + (data.server || "the server"));
    box.appendChild(el("p", null, "Server " + (data.server || "") + " needs configuration to continue."));
    const inputs = [];
    (data.required_configs || []).forEach((c, i) => {
      const id = "cfg-" + formCount + "-" + i;
      const wrap = el("div", "field");
      const label = el("label", null, c.key);
      label.htmlFor = id;
      wrap.appendChild(label);
      let field;
      if (c.type === "boolean") {
        field = el("input"); field.type = "checkbox";
      } else if (c.type === "object" || c.type === "array") {
        field = el("textarea"); field.rows = 3; field.placeholder = c.type === "array" ? "[\"…\"]" : "{…}";
      } else {
        field = el("input"); field.type = c.type === "integer" || c.type === "number" ? "number" : "text";
        if (c.type === "number") field.step = "any";
      }
      field.id = id; field.name = c.key; field.dataset.type = c.type || "string";
      if (c.type !== "boolean") field.required = true;
      wrap.appendChild(field);
      if (c.description) {
        const help = el("p", "help", c.description); help.id = id + "-help";
        field.setAttribute("aria-describedby", help.id);
        wrap.appendChild(help);
      }
      box.appendChild(wrap);
      inputs.push(field);
    });
    const problem = el("p", "error"); problem.setAttribute("role", "alert");
    box.appendChild(problem);
    const button = el("button", "primary", "Continue the chat");
    button.type = "submit";
    box.appendChild(button);
    box.addEventListener("submit", async (event) => {
      event.preventDefault();
      const provided = {};
      for (const f of inputs) {
        const type = f.dataset.type;
        try {
          if (type === "boolean") provided[f.name] = f.checked;
          else if (type === "integer" || type === "number") provided[f.name] = Number(f.value);
          else if (type === "object" || type === "array") provided[f.name] = JSON.parse(f.value);
          else provided[f.name] = f.value;
        } catch (e) {
          problem.textContent = f.name + ": not valid JSON";
          f.focus();
          return;
        }
      }
      button.disabled = true;
      inputs.forEach((f) => { f.disabled = true; });
      await run("/sse/chat/resume", { interrupt_id: data.interrupt_id, provided_configs: provided });
    });
    if (inputs.length) inputs[0].focus();
  }

  async function run(path, payload) {
    busy = true;
    send.disabled = true;
    const headers = { "content-type": "application/json", accept: "text/event-stream" };
    headers[body.dataset.header] = body.dataset.workspace;
    try {
      const response = await fetch(path, { method: "POST", headers: headers, body: JSON.stringify(payload) });
      if (!response.ok || !response.body) {
        let message = response.status + " " + response.statusText;
        try { const err = await response.json(); message = (err.error && err.error.message) || JSON.stringify(err.detail || err); } catch (e) { /* not JSON */ }
        onEvent("error", { status: response.status, error: message });
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message";
          const data = [];
          block.split("\n").forEach((line) => {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          });
          if (!data.length) continue;
          let parsed;
          try { parsed = JSON.parse(data.join("\n")); } catch (e) { continue; }
          onEvent(parsed.type || type, parsed);
        }
      }
    } catch (e) {
      onEvent("error", { error: String(e) });
    } finally {
      busy = false;
      send.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    add(el("div", "msg user", text));
    history.push({ role: "user", content: text });
    input.value = "";
    run("/sse/chat", { messages: history.slice(), mode: mode.value });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("chat-new").addEventListener("click", () => {
    history = []; log.textContent = ""; status.textContent = "New chat."; input.focus();
  });
})();
