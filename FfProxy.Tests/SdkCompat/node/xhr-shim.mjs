// A minimal streaming XMLHttpRequest over node:http, enough for the Harness JS client SDK's SSE reader:
// it needs responseText to grow chunk by chunk with an onprogress call per chunk (xhr2 and
// xmlhttprequest-ssl only deliver the text at the end).
import http from 'node:http';
import https from 'node:https';

export class StreamingXMLHttpRequest {
  constructor() {
    this.readyState = 0;
    this.status = 0;
    this.responseText = '';
    this.timeout = 0;
    this.headers = {};
  }

  open(method, url) {
    this.method = method;
    this.url = new URL(url);
    this.readyState = 1;
  }

  setRequestHeader(name, value) {
    // Browsers coerce header values to strings (the SDK sends claims it may not have as "undefined").
    this.headers[name] = String(value);
  }

  send(body) {
    const transport = this.url.protocol === 'https:' ? https : http;
    this.request = transport.request(this.url, { method: this.method, headers: this.headers }, (response) => {
      this.status = response.statusCode;
      this.readyState = 3;
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        this.responseText += chunk;
        this.onprogress?.();
      });
      response.on('end', () => {
        this.readyState = 4;
        this.onload?.();
      });
      response.on('error', () => this.onerror?.());
    });
    if (this.timeout > 0 && this.timeout < 2 ** 31) {
      this.request.setTimeout(this.timeout, () => {
        this.request.destroy();
        this.ontimeout?.();
      });
    }
    this.request.on('error', () => {
      if (!this.aborted) this.onerror?.();
    });
    this.request.end(body);
  }

  abort() {
    this.aborted = true;
    this.request?.destroy();
    this.onabort?.();
  }
}
