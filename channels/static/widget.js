// One-tag embed of the support chat:
//   <script src="https://HOST/widget.js" data-title="Acme help" data-greeting="Hi!"
//           data-color="#0f766e" data-position="right" async></script>
// Optional: data-server (defaults to this script's origin), data-user-id and
// data-user-hash (an HMAC of the user id made by the site's backend), data-open="true".
// This loader is a classic script so that it can read its own data attributes; the
// widget itself is a set of ES modules under static/widget/ on the same server.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__supportChatWidgetLoaded) return;
  window.__supportChatWidgetLoaded = true;
  var config = Object.assign({}, script.dataset);
  config.server = config.server || new URL(script.src, location.href).origin;
  // The server serves this file at /widget.js and the modules under /static/.
  var moduleUrl = new URL("static/widget/element.js", script.src).href;
  function start() {
    import(moduleUrl).then(function (m) { m.mount(config); }, function (err) {
      console.error("support widget: could not load " + moduleUrl, err);
    });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
