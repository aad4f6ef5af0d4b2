// The addon; @pyramid/core loads it through this file and checks its contract.
module.exports = require('./dist/pyramid-cpu.node');
