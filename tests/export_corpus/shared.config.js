// Several apps in one image (pm export ... --image): each container runs pm-runtime.
module.exports = {
  apps: [
    {
      name: 'api',
      script: 'apps/server.py',
      interpreter: 'python3',
      instances: 3,
      listen: ['127.0.0.1:8080', '[::1]:8080'],
      healthCheck: { cmd: 'test -S /tmp/api.sock || exit 1', retries: 2 },
      waitReady: true,
      increment_var: 'PORT',
      env: { PORT: 8080 },
      env_staging: { API_MODE: 'staging' },
    },
    {
      name: 'mailer',
      script: 'apps/worker.py',
      interpreter: 'python3',
      watch: ['apps'],
      treekill: false,
      exp_backoff_restart_delay: 200,
      hooks: { exit: 'echo mailer exited' },
      cron_restart: '*/20 8-18 * * mon-fri',
    },
    {
      name: 'shell-cmd',
      script: 'echo start; exec sleep 3600',
      disable_logs: true,
      restart_group: true,
    },
  ],
};
