// Backend selection (lib/engine/index.ts selectBackend): bad choices are typed errors, in the
// API and through SATRNN_BACKEND in the CLI.
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../lib/engine/index.js';
import { addon, cliWithEnv, expectCleanFailure, expectCode } from '../helpers.js';


describe('backend selection: bad choices are errors', () => {
  it('an unknown backend name, and 0 native threads (with the addon), are BAD_OPTION', () => {
    expectCode(() => selectBackend({ name: 'gpu' as never }), 'BAD_OPTION');
    if (addon) expectCode(() => selectBackend({ name: 'native', threads: 0 }), 'BAD_OPTION');
  });
  it('bad SATRNN_BACKEND: the CLI exits 2 with a clear message', () => {
    expectCleanFailure(cliWithEnv({ SATRNN_BACKEND: 'cuda' }, 'info'), 2, /SATRNN_BACKEND=cuda is not valid/);
  });
  it('SATRNN_ADDON naming a missing file is an error naming it (no silent fallback to another build or to js)', () => {
    expectCleanFailure(cliWithEnv({ SATRNN_ADDON: '/nonexistent/satrnn.node' }, 'info'), 1, /SATRNN_ADDON=\/nonexistent\/satrnn.node: no such file/);
    // An explicit js backend does not need the addon.
    expect(cliWithEnv({ SATRNN_ADDON: '/nonexistent/satrnn.node' }, 'knockout', '--backend', 'js', '--top', '1').status).toBe(0);
  });
});
