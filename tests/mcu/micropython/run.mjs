// Runs a Python script under the official MicroPython WebAssembly port (npm
// @micropython/micropython-webassembly-pyscript) with firmware/mcu on its import path.
// usage: node run.mjs PACKAGE_DIR REPO_DIR SCRIPT.py [--serve]
// Exit 0 when the script ran to the end, 1 on an uncaught Python exception (printed).
// --serve: after the script ran, every line on stdin is passed to its handle(line)
// (which prints its answer line); end of stdin ends the process.
import { readFileSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, repo, script, mode] = process.argv.slice(2);
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
function run(code) {
  try {
    mp.runPython(code);
  } catch (err) {
    process.stderr.write(String(err.message ?? err) + "\n");
    process.exit(1);
  }
}
// The script's sibling modules (e.g. sim.py, the stand-in machine) are importable too.
const here = dirname(script);
for (const name of readdirSync(here)) {
  if (name.endsWith(".py")) mp.FS.writeFile(`/lib/${name}`, readFileSync(join(here, name)));
}
run(readFileSync(script, "utf8"));
if (mode === "--serve") {
  for await (const line of createInterface({ input: process.stdin })) {
    run(`handle(${JSON.stringify(line)})`);
  }
}
