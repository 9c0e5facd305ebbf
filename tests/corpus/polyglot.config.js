// PHP, Ruby, shell and Python apps in one JS config, as PM2 users write them.
const path = require('path');

module.exports = {
  apps: [
    {
      name: 'php-site',
      script: 'apps/server.php',
      interpreter: 'php',
      env: { APP_ROOT: path.join(__dirname, 'apps') },
    },
    {
      name: 'ruby-job',
      script: 'apps/job.rb',
      interpreter_args: '-W0',
      namespace: 'jobs',
    },
    {
      name: 'shell-loop',
      script: 'apps/worker.sh',
      interpreter: 'bash',
      args: 'alpha beta',
      cron_restart: '0 3 * * *',
    },
    {
      name: 'py-venvless',
      script: 'apps/api.py',
      interpreter: 'python3',
      env: { LEVEL: 'info' },
      exp_backoff_restart_delay: 100,
    },
  ],
};
