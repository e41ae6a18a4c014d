// One WebSocket channel that survives dropped connections: it resumes with `since` + `epoch`
// (API.md), and asks the page to reload its state when the server answers `resync`.
"use strict";

class LiveChannel {
  constructor({ channel, token, since, epoch, onEvent, onResync, onStatus }) {
    Object.assign(this, { channel, token, since, epoch, onEvent, onResync, onStatus });
    this.retryMs = 500;
    this.closed = false;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = this.token ? `?token=${encodeURIComponent(this.token)}` : "";
    const socket = (this.socket = new WebSocket(`${scheme}://${location.host}/ws${query}`));
    socket.onopen = () => {
      const subscribe = { op: "subscribe", channel: this.channel };
      if (this.since != null && this.epoch) Object.assign(subscribe, { since: this.since, epoch: this.epoch });
      socket.send(JSON.stringify(subscribe));
    };
    socket.onmessage = (message) => this.handle(JSON.parse(message.data));
    socket.onclose = () => {
      this.onStatus && this.onStatus("reconnecting");
      if (!this.closed) setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 8000);
    };
  }

  handle(message) {
    if (message.channel && message.channel !== this.channel) return;
    if (message.op === "subscribed") {
      this.retryMs = 500;
      this.epoch = message.epoch;
      if (this.since == null) this.since = message.seq;
      this.onStatus && this.onStatus("live");
    } else if (message.op === "event") {
      this.since = message.seq;
      this.onEvent(message);
    } else if (message.op === "resync") {
      // history we missed is gone: take the new position, and let the page reload its state
      this.since = message.seq;
      this.epoch = message.epoch;
      this.onStatus && this.onStatus("live");
      this.onResync && this.onResync();
    } else if (message.op === "error") {
      this.onStatus && this.onStatus(`error: ${message.code}`);
    }
  }

  close() {
    this.closed = true;
    this.socket && this.socket.close();
  }
}

async function api(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? {} : await response.json();
  if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
  return data;
}

function yuan(fen) {
  return `¥${(fen / 100).toFixed(2)}`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
