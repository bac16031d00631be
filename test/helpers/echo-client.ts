// A text-message client for tests that talk to echo servers: ask() sends a message and resolves with
// the next message received. One persistent 'messageReceived' handler that never throws (the event
// raised for a failed connection has getters that throw), so the tests do not depend on once().

import { Buffer } from 'node:buffer';

import { MessageWebSocket, SocketMessageType, type WebSocketClosedEventArgs } from '../../src/index.js';

export class EchoClient {
  readonly ws = new MessageWebSocket();
  private readonly waiting: ((text: string) => void)[] = [];
  private readonly unclaimed: string[] = [];

  constructor(connectTimeout = 5000) {
    this.ws.control.messageType = SocketMessageType.Utf8;
    this.ws.control.connectTimeout = connectTimeout;
    this.ws.control.closeTimeout = 2000;
    this.ws.on('messageReceived', (args) => {
      let text: string;
      try {
        text = args.getText();
      } catch {
        return; // the connection failed: 'closed' tells
      }
      const taker = this.waiting.shift();
      if (taker === undefined) this.unclaimed.push(text);
      else taker(text);
    });
  }

  connect(url: string): Promise<void> {
    return this.ws.connectAsync(url);
  }

  /** Sends `text` and resolves with the next message that arrives (rejects after `ms`). */
  async ask(text: string, ms = 5000): Promise<string> {
    const answer = new Promise<string>((resolve, reject) => {
      const early = this.unclaimed.shift();
      if (early !== undefined) {
        resolve(early);
        return;
      }
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(take);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new Error(`no answer to '${text}' within ${ms} ms`));
      }, ms);
      const take = (reply: string): void => {
        clearTimeout(timer);
        resolve(reply);
      };
      this.waiting.push(take);
    });
    await this.ws.outputStream.writeAsync(Buffer.from(text));
    return answer;
  }

  whenClosed(): Promise<WebSocketClosedEventArgs> {
    return this.ws.whenClosed();
  }

  close(code = 1000, reason = ''): void {
    this.ws.close(code, reason);
  }
}
