// The warnings Node emits, which jest's copy of `process` never sees.
import vm from 'node:vm';

/**
 * Node's own process object. Jest gives each test file a copy of `process` whose events are its
 * own, so the warnings Node emits (`MaxListenersExceededWarning`…) never reach `process.on` in a
 * test; the process of the main context does receive them.
 */
export function nodeProcess(): NodeJS.Process {
  return vm.runInThisContext('process') as NodeJS.Process;
}

/** Collects the process warnings Node emits until `stop()`. */
export function watchWarnings(): { readonly warnings: Error[]; stop(): void } {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  const target = nodeProcess();
  target.on('warning', onWarning);
  return {
    warnings,
    stop: () => target.off('warning', onWarning),
  };
}
