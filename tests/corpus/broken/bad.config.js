module.exports = {
  apps: [{ name: 'x', script: 'a.py', }
};
