// An ES module config (export default), loaded by import() as PM2 does.
export default {
  apps: [{ name: 'esm-app', script: 'apps/worker.py', env: { FROM: 'esm' } }],
};
