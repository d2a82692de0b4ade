// Starts and stops the jaxaccomp server for RTAP.maxpat, inside [node.script rtap_server.js] (Node for
// Max, built into Max 8 and later):
//   start <command ...>   runs the command in a shell, from this folder; its output goes to the Max console
//   stop                  ends it, with everything it started
// Outlet: `running 1` once started, `running 0 <exit code>` once it ended. Closing the patch stops it too.
const maxApi = require("max-api");
const { spawn } = require("child_process");

let server = null;

function stop() {
  if (server === null) return;
  if (process.platform === "win32") {
    spawn("taskkill", ["/pid", String(server.pid), "/T", "/F"]);
  } else {
    try {
      process.kill(-server.pid, "SIGTERM");  // the shell's process group: the shell and the python it started
    } catch (error) {
      maxApi.post(`cannot stop the server: ${error.message}`, maxApi.POST_LEVELS.ERROR);  // it just ended
    }
  }
}

maxApi.addHandler("start", (...words) => {
  if (server !== null) return maxApi.post("the server is already running: stop it first", maxApi.POST_LEVELS.WARN);
  const command = words.join(" ");
  const child = spawn(command, { cwd: __dirname, shell: true, detached: process.platform !== "win32" });
  server = child;
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (data) => maxApi.post(String(data).trimEnd()));
  child.on("error", (error) => maxApi.post(`cannot run ${command}: ${error.message}`, maxApi.POST_LEVELS.ERROR));
  child.on("exit", (code) => {
    if (server === child) server = null;
    maxApi.outlet("running", 0, code === null ? -1 : code);
  });
  maxApi.outlet("running", 1);
});

maxApi.addHandler("stop", stop);
process.on("exit", stop);
process.on("SIGTERM", () => process.exit(0));
