// Live updates from the gateway: server-sent events of the current view.
//
// EventSource cannot send an Authorization header, and an access token in a URL ends up in
// logs, so the stream is read with fetch() and parsed here. One stream per view is shared by
// every screen that listens; it reconnects after a drop (with a growing pause) and stops
// when nothing listens any more.

import { token } from "./api.js";

const streams = new Map(); // view id -> { listeners: Set, controller }

/** Listen to a view's events; returns a function that stops listening. */
export function listen(viewId, listener) {
  let stream = streams.get(viewId);
  if (!stream) {
    stream = { listeners: new Set(), controller: null, stopped: false };
    streams.set(viewId, stream);
    run(viewId, stream);
  }
  stream.listeners.add(listener);
  return () => {
    stream.listeners.delete(listener);
    if (stream.listeners.size === 0) {
      stream.stopped = true;
      stream.controller?.abort();
      streams.delete(viewId);
    }
  };
}

/** Close every stream (on logging out). */
export function closeAll() {
  for (const [viewId, stream] of streams) {
    stream.stopped = true;
    stream.controller?.abort();
    streams.delete(viewId);
  }
}

async function run(viewId, stream) {
  let pause = 1000;
  while (!stream.stopped && token()) {
    stream.controller = new AbortController();
    try {
      const response = await fetch(`/views/${viewId}/live`, {
        headers: { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" },
        signal: stream.controller.signal,
      });
      if (response.status === 401 || response.status === 404) return;
      if (!response.ok || !response.body) throw new Error(`live: ${response.status}`);
      pause = 1000;
      await read(response.body, (type, data) => {
        for (const listener of stream.listeners) listener(type, data);
      });
    } catch (error) {
      if (stream.stopped) return;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 30000);
  }
}

/** Parse "event: …\ndata: …\n\n" blocks as they arrive. */
async function read(body, emit) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) emit(type, JSON.parse(data));
    }
  }
}
