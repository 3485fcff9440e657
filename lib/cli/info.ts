import { Command } from 'commander';
import { selectBackend, loadAddon, nativeAddonFile, nativeLoadError } from '../engine/index.js';
import { VERSION } from '../version.js';
import { backendOptions, emit, type BackendFlags } from './common.js';

/** What `satrnn info` reports: versions, the backend in use and why. */
export function backendInfo(flags: BackendFlags = {}): Record<string, unknown> {
  const addon = loadAddon();
  const backend = selectBackend(backendOptions(flags));
  const native = addon?.info();
  return {
    satrnn: VERSION,
    node: process.versions.node,
    napi: process.versions.napi,
    platform: `${process.platform}-${process.arch}`,
    backend: backend.name,
    isa: backend.isa,
    threads: backend.threads,
    nativeAddon: addon ? 'loaded' : `unavailable (${nativeLoadError()})`,
    addonFile: nativeAddonFile() ?? null,
    sanitized: native?.sanitized ?? false,
    cpuAvx2: native?.avx2 ?? false,
    cpuAvx512: native?.avx512 ?? false,
    env: {
      SATRNN_BACKEND: process.env.SATRNN_BACKEND ?? null,
      SATRNN_ISA: process.env.SATRNN_ISA ?? null,
      SATRNN_THREADS: process.env.SATRNN_THREADS ?? null,
    },
  };
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the backend, ISA, thread count and versions in use')
    .option('--backend <name>', 'native or js')
    .option('--isa <isa>', 'avx512, avx2, sse2 or scalar')
    .option('--json', 'print JSON')
    .action((flags: BackendFlags & { json?: boolean }) => {
      const info = backendInfo(flags);
      if (flags.json) return emit(`${JSON.stringify(info, null, 2)}\n`);
      const lines = Object.entries(info).map(([k, v]) => `${k.padEnd(12)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      emit(`${lines.join('\n')}\n`);
    });
}
