/**
 * Notices when the process that started the kernel is gone, as ipykernel's ParentPoller does: a
 * front end (or `ringbook run`) killed with SIGKILL cannot ask the kernel to shut down, and a
 * kernel left running would keep its worker clusters too. Watches `$JPY_PARENT_PID` when the
 * launcher set it (Jupyter's launchers do), else the parent process; polls once a second.
 */

/** A parent watch; `gone` resolves when the parent exited. */
export interface ParentWatch {
  readonly gone: Promise<void>;
  stop(): void;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Starts watching; a kernel whose parent is init (pid 1) from the start has nothing to watch. */
export function watchParent(intervalMs = 1000): ParentWatch {
  const declared = Number(process.env["JPY_PARENT_PID"]);
  const initialParent = process.ppid;
  const watched = Number.isSafeInteger(declared) && declared > 1 ? declared : initialParent;
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<void>((resolve) => {
    if (watched <= 1) return;
    timer = setInterval(() => {
      // Reparenting is the sure sign for our own parent; another pid is probed.
      const exited = watched === initialParent ? process.ppid !== initialParent : !isRunning(watched);
      if (!exited) return;
      clearInterval(timer);
      resolve();
    }, intervalMs);
    timer.unref();
  });
  return {
    gone,
    stop: () => clearInterval(timer),
  };
}
