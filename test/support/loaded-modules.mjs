// Preloaded into a function under test (NODE_OPTIONS=--import): after every answer, writes the
// Node built-in modules loaded so far to $KUBEFN_LOADED_MODULES_FILE, so a test can check what a
// cold start pays for.
import dc from 'node:diagnostics_channel';
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.KUBEFN_LOADED_MODULES_FILE;
if (file) {
  dc.subscribe('http.server.response.finish', () => {
    // Written aside and renamed: the test may read it while this answer is still finishing.
    writeFileSync(`${file}.tmp`, process.moduleLoadList.join('\n'));
    renameSync(`${file}.tmp`, file);
  });
}
