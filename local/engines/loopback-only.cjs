// Preloaded (node --require) into engines that listen on every interface with no option to change it
// (kinesis-mock): every TCP server of the process listens on 127.0.0.1 instead of a wildcard address.
const net = require('node:net');

const WILDCARD = new Set([undefined, null, '', '0.0.0.0', '::']);
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function loopbackListen(...args) {
  const [first, second] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof second === 'string') {
      if (WILDCARD.has(second)) args[1] = '127.0.0.1';
    } else args.splice(1, 0, '127.0.0.1');
  } else if (first && typeof first === 'object' && 'port' in first && WILDCARD.has(first.host)) {
    args[0] = { ...first, host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
