// tests/browser/stats.js - what the test pages (recorder.html, client.html)
// share: getStats() summaries of what the browser really sends and receives,
// and log(), the timestamped trace record.mjs reads back.
'use strict';

window.result = null;
window.trace = [];
const t0 = performance.now();
function log(...args) {
  const line = ((performance.now() - t0) / 1000).toFixed(3) + ' ' +
      args.map(a => typeof a === 'string' ? a : JSON.stringify(a)).join(' ');
  window.trace.push(line);
  document.getElementById('log').textContent += line + '\n';
}

function mimeTypes(codecs) {
  const out = [];
  for (const c of codecs) {
    const text = c.mimeType + (c.sdpFmtpLine ? ';' + c.sdpFmtpLine : '');
    if (!out.includes(text))
      out.push(text);
  }
  return out;
}

// What the sender really sends, from getStats(): codec, frames, size.
async function collectStats(pc) {
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach(s => byId.set(s.id, s));
  const out = {};
  report.forEach(s => {
    if (s.type !== 'outbound-rtp' || !s.kind)
      return;
    const codec = byId.get(s.codecId);
    out[s.kind] = {
      codec: codec ? codec.mimeType : null,
      payloadType: codec ? codec.payloadType : null,
      sdpFmtpLine: codec ? codec.sdpFmtpLine || null : null,
      packetsSent: s.packetsSent,
      bytesSent: s.bytesSent,
      framesEncoded: s.framesEncoded,
      frameWidth: s.frameWidth,
      frameHeight: s.frameHeight,
      framesPerSecond: s.framesPerSecond,
      keyFramesEncoded: s.keyFramesEncoded,
      firCount: s.firCount,
      pliCount: s.pliCount,
      nackCount: s.nackCount,
      qualityLimitationReason: s.qualityLimitationReason,
      encoderImplementation: s.encoderImplementation,
    };
  });
  report.forEach(s => {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      const local = byId.get(s.localCandidateId), remote = byId.get(s.remoteCandidateId);
      out.selectedPair = {
        local: local ? `${local.candidateType} ${local.address || local.ip}:${local.port}` : null,
        remote: remote ? `${remote.candidateType} ${remote.address || remote.ip}:${remote.port}` : null,
        availableOutgoingBitrate: s.availableOutgoingBitrate,
      };
    }
  });
  return out;
}

// What the browser receives back (loopback): decoded frames and packets.
async function collectInbound(pc) {
  const out = {};
  (await pc.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind)
      out[s.kind] = {packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
                     framesDecoded: s.framesDecoded, frameWidth: s.frameWidth,
                     frameHeight: s.frameHeight, keyFramesDecoded: s.keyFramesDecoded,
                     pliCount: s.pliCount, firCount: s.firCount};
  });
  return out;
}
