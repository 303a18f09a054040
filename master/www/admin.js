/*
 * master/www/admin.js - the /admin smoke test's buttons (admin.html), on top
 * of /api/client.js: start records with loopback, stop waits for the upload
 * and plays the recording from its videoUrl.  window.recorder is the
 * WebrtcVideo.Recorder, for whoever debugs in the console.
 */
(function () {
  'use strict';
  const $ = id => document.getElementById(id);
  const t0 = performance.now();

  function log(text) {
    $('log').textContent += `${((performance.now() - t0) / 1000).toFixed(2)} ${text}\n`;
  }

  const recorder = new WebrtcVideo.Recorder({preview: $('preview'), loopback: $('loopback')});
  window.recorder = recorder;
  log(`recorder websocket: ${recorder.url}`);

  recorder.on('state', ({state}) => {
    $('state').textContent = state;
    $('start').disabled = state === 'connecting' || state === 'recording' || state === 'stopping';
    $('stop').disabled = state !== 'recording';
    log(`state ${state}`);
  });
  recorder.on('error', ({message}) => log(`error: ${message}`));
  recorder.on('track', ({track}) => log(`loopback ${track.kind} track`));
  recorder.on('uploaded', ({videoUrl, key}) => {
    log(`uploaded ${key}`);
    $('videoUrl').textContent = key;
    $('videoUrl').href = videoUrl;
    $('playback').src = videoUrl;
    $('playback').play().catch(() => {});
  });

  $('start').addEventListener('click', () => {
    $('playback').removeAttribute('src');
    recorder.start().then(() => log('recording'), e => log(`start failed: ${e.message}`));
  });
  $('stop').addEventListener('click', () => {
    recorder.stop().catch(e => log(`stop failed: ${e.message}`));
  });
})();
