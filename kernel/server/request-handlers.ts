import { commOrigin } from "../execution/executor.js";
import type { ReplyContents } from "../protocol/wire-types.js";
import type { CellEventPublisher } from "./cell-event-publisher.js";
import { executeCell, type ExecuteContext } from "./execute-handler.js";
import type { QueuedRequest } from "./request-decoder.js";

/** What the request handlers need beyond running cells. */
export interface HandlerContext extends ExecuteContext {
  events: CellEventPublisher;
  log: (line: string) => void;
  kernelInfo(): ReplyContents["kernel_info_reply"];
  /** Called after shutdown_reply was queued; the kernel's owner closes it. */
  requestShutdown(restart: boolean): void;
}

/**
 * Answers one shell or control request (busy/idle are the caller's). Returns true when it was an
 * execute_request that failed, so the caller can apply `stop_on_error`.
 */
export async function handleRequest(item: QueuedRequest, context: HandlerContext): Promise<boolean> {
  const { sender, executor, log } = context;
  const { request } = item;
  if (item.invalid !== undefined) {
    sender.replyError(item, { ename: "InvalidRequest", evalue: item.invalid.message, traceback: [] });
    return false;
  }
  if (request === undefined) {
    // ipykernel only logs unknown types; a reply as well means a waiting client does not hang.
    log(`${item.channel}: unknown message type ${JSON.stringify(item.message.header.msg_type)}; replied with an error`);
    sender.replyError(item, { ename: "UnknownMessageType", evalue: `ringbook does not handle ${item.message.header.msg_type}`, traceback: [] });
    return false;
  }
  switch (request.msg_type) {
    case "kernel_info_request":
      sender.reply(item, "kernel_info_reply", context.kernelInfo());
      return false;
    case "execute_request":
      if (item.aborted) {
        sender.reply(item, "execute_reply", { status: "aborted", execution_count: context.counter.value });
        return false;
      }
      if (item.channel === "control") {
        sender.reply(item, "execute_reply", {
          status: "error",
          execution_count: context.counter.value,
          user_expressions: {},
          payload: [],
          ename: "InvalidRequest",
          evalue: "execute_request must be sent on the shell channel",
          traceback: [],
        });
        return false;
      }
      return await executeCell(context, item, request.content);
    case "complete_request": {
      const result = await executor.complete(request.content.code, request.content.cursor_pos);
      sender.reply(item, "complete_reply", {
        status: "ok",
        matches: result.matches,
        cursor_start: result.cursorStart,
        cursor_end: result.cursorEnd,
        metadata: result.types === undefined ? {} : { _jupyter_types_experimental: result.types },
      });
      return false;
    }
    case "inspect_request": {
      const result = await executor.inspect(request.content.code, request.content.cursor_pos, request.content.detail_level);
      sender.reply(item, "inspect_reply", { status: "ok", found: result.found, data: result.found ? result.data : {}, metadata: {} });
      return false;
    }
    case "is_complete_request": {
      const result = await executor.isComplete(request.content.code);
      sender.reply(item, "is_complete_reply", result.status === "incomplete" ? { status: "incomplete", indent: result.indent } : { status: result.status });
      return false;
    }
    case "history_request": {
      const content = request.content;
      const { history } = context;
      const entries =
        content.hist_access_type === "tail"
          ? history.tail(content.n, content.output)
          : content.hist_access_type === "range"
            ? history.range(content.session, content.start, content.stop, content.output)
            : history.search(content.pattern, content.n, content.unique, content.output);
      sender.reply(item, "history_reply", { status: "ok", history: entries });
      return false;
    }
    case "comm_info_request": {
      const targets = await executor.commInfo(request.content.target_name);
      const comms: Record<string, { target_name: string }> = {};
      for (const target of targets) comms[target.commId] = { target_name: target.targetName };
      sender.reply(item, "comm_info_reply", { status: "ok", comms });
      return false;
    }
    case "comm_open": {
      const { comm_id: commId, target_name: targetName, data } = request.content;
      context.cells.add(commOrigin(commId), { header: item.message.header, ids: item.ids });
      const opened = await executor.commOpen(commId, targetName, data, item.message.metadata);
      if (!opened) {
        log(`comm_open for unknown target ${JSON.stringify(targetName)}; closing comm ${commId}`);
        sender.publish(item.message.header, "comm_close", { comm_id: commId, data: {} });
      }
      return false;
    }
    case "comm_msg":
      context.cells.add(commOrigin(request.content.comm_id), { header: item.message.header, ids: item.ids });
      await executor.commMsg(request.content.comm_id, request.content.data, item.message.metadata);
      return false;
    case "comm_close":
      await executor.commClose(request.content.comm_id, request.content.data, item.message.metadata);
      context.cells.delete(commOrigin(request.content.comm_id));
      return false;
    case "interrupt_request":
      await executor.interrupt();
      sender.reply(item, "interrupt_reply", { status: "ok" });
      return false;
    case "shutdown_request": {
      const restart = request.content.restart;
      // The process exits after this; a restart is the front end's KernelManager starting a new one.
      await executor.close().catch((error: unknown) => log(`executor close failed: ${error instanceof Error ? error.message : String(error)}`));
      sender.reply(item, "shutdown_reply", { status: "ok", restart });
      sender.publish(item.message.header, "shutdown_reply", { status: "ok", restart });
      context.requestShutdown(restart);
      return false;
    }
    case "input_reply":
      log(`${item.channel}: input_reply belongs on stdin; ignored`);
      return false;
    default: {
      const unknown: never = request;
      throw new Error(`unhandled request ${JSON.stringify(unknown)}`);
    }
  }
}
