"""The sample ecosystem files `pm init` writes: a commented one per format, and PM2's minimal
one (`pm init simple`)."""

_JS_SAMPLE = """\
// Ecosystem file for pm (and PM2): `pm start ecosystem.config.js`.
// Every attribute: see PM2's ecosystem documentation; pm reads the same names.
module.exports = {
  apps: [
    {
      name: "api",                 // name shown by `pm list` (default: script name)
      script: "app.py",            // file or command to run; interpreter from the extension
      cwd: ".",                    // relative to this file's folder
      args: "--port 8000",         // string (shell-split) or list
      instances: 1,                // number, or "max" for one per CPU
      autorestart: true,
      max_restarts: 16,            // unstable restarts (uptime < min_uptime) before "errored"
      min_uptime: "1s",
      restart_delay: 0,            // ms to wait before an automatic restart
      max_memory_restart: "300M",
      // Zero-downtime reloads (pm additions; see docs/zero-downtime.md):
      // listen: "127.0.0.1:8000",  // pm binds it and hands it to every instance as fd 3
      // wait_ready: true,          // online once the app sends READY=1 on NOTIFY_SOCKET
      // listen_timeout: 3000,      // ...or after this many ms without a word
      // health_check: { http: "http://127.0.0.1:8000/health", interval: "10s", retries: 3 },
      env: {                       // always applied
        APP_ENV: "development",
      },
      env_production: {            // applied with `pm start ecosystem.config.js --env production`
        APP_ENV: "production",
      },
    },
  ],
};
"""

_JSON_SAMPLE = """\
{
  "apps": [
    {
      "name": "api",
      "script": "app.py",
      "cwd": ".",
      "args": "--port 8000",
      "instances": 1,
      "autorestart": true,
      "max_restarts": 16,
      "min_uptime": "1s",
      "restart_delay": 0,
      "max_memory_restart": "300M",
      "env": {"APP_ENV": "development"},
      "env_production": {"APP_ENV": "production"}
    }
  ]
}
"""

_YAML_SAMPLE = """\
# Ecosystem file for pm (and PM2): `pm start ecosystem.config.yaml`.
apps:
  - name: api                # name shown by `pm list` (default: script name)
    script: app.py           # file or command to run; interpreter from the extension
    cwd: .                   # relative to this file's folder
    args: --port 8000        # string (shell-split) or list
    instances: 1             # number, or max for one per CPU
    autorestart: true
    max_restarts: 16         # unstable restarts (uptime < min_uptime) before errored
    min_uptime: 1s
    restart_delay: 0         # ms to wait before an automatic restart
    max_memory_restart: 300M
    # Zero-downtime reloads (pm additions; see docs/zero-downtime.md):
    # listen: 127.0.0.1:8000   # pm binds it and hands it to every instance as fd 3
    # wait_ready: true         # online once the app sends READY=1 on NOTIFY_SOCKET
    # listen_timeout: 3000     # ...or after this many ms without a word
    # health_check: {http: "http://127.0.0.1:8000/health", interval: 10s, retries: 3}
    env:                     # always applied
      APP_ENV: development
    env_production:          # applied with --env production
      APP_ENV: production
"""

#: `pm init --format X` -> (file name, text).
TEMPLATES = {
    "js": ("ecosystem.config.js", _JS_SAMPLE),
    "json": ("ecosystem.json", _JSON_SAMPLE),
    "yaml": ("ecosystem.config.yaml", _YAML_SAMPLE),
}

SIMPLE_TEMPLATES = {
    "js": (
        "ecosystem.config.js",
        'module.exports = {\n  apps: [{\n    name: "app",\n    script: "app.py",\n  }],\n};\n',
    ),
    "json": ("ecosystem.json", '{\n  "apps": [{"name": "app", "script": "app.py"}]\n}\n'),
    "yaml": ("ecosystem.config.yaml", "apps:\n  - name: app\n    script: app.py\n"),
}
