// Runs a Python script under the official MicroPython WebAssembly port (npm
// @micropython/micropython-webassembly-pyscript) with firmware/mcu on its import path.
// usage: node run.mjs PACKAGE_DIR REPO_DIR SCRIPT.py
// Exit 0 when the script ran to the end, 1 on an uncaught Python exception (printed).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, repo, script] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(join(pkg, "micropython.mjs")).href);
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
// The firmware package as it would sit on the Pico's flash: /lib/firmware/mcu/*.py, with an
// empty firmware/__init__.py (the agent's own package is not on the MCU).
mp.FS.mkdirTree("/lib/firmware/mcu");
mp.FS.writeFile("/lib/firmware/__init__.py", "");
const src = join(repo, "firmware", "mcu");
for (const name of readdirSync(src)) {
  if (name.endsWith(".py")) mp.FS.writeFile(`/lib/firmware/mcu/${name}`, readFileSync(join(src, name)));
}
try {
  mp.runPython(readFileSync(script, "utf8"));
} catch (err) {
  process.stderr.write(String(err.message ?? err) + "\n");
  process.exit(1);
}
