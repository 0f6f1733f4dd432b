// Step: reports a handler mistake that the package survived, as a process warning anyone can watch.

/** Emits an `AsyncStreamWarning` (`process.on('warning')`; printed by Node unless `--no-warnings`). */
export function warn(where: string, message: string): void {
  process.emitWarning(`${where}: ${message}`, 'AsyncStreamWarning');
}
