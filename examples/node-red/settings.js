/**
 * Node-RED settings for running the example flow headless, next to `insightsim run --flow-url`.
 *
 * Started by run.sh as `node red.js --userDir DIR --settings settings.js --port PORT flows.json`.
 * Everything not set here keeps Node-RED 4's default.
 */
module.exports = {
    // Loopback only: the editor has no login (no adminAuth), so it must not be reachable from
    // elsewhere. The port comes from --port.
    uiHost: "127.0.0.1",
    uiPort: process.env.PORT || 1880,

    // The flow's HTTP endpoints (`POST /hook`, `GET /health`) sit at the root; the editor and its
    // admin API under /admin, so that they never collide with the flow's paths.
    httpNodeRoot: "/",
    httpAdminRoot: "/admin",

    // The flow file run.sh copies in; the example has no credentials to encrypt.
    flowFile: "flows.json",
    flowFilePretty: true,
    credentialSecret: false,

    // Headless: no projects, no tours, no telemetry question, no update check, no diagnostics
    // endpoint, no palette or npm modules installed at run time.
    editorTheme: {
        projects: { enabled: false },
        tours: false,
    },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    externalModules: { palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,

    // The flow's state (the event ids it handled) lives in memory: a restart forgets it. Enough
    // for the suite, which runs against one instance from start to end.
    contextStorage: { default: { module: "memory" } },

    logging: {
        console: { level: "info", metrics: false, audit: false },
    },
};
