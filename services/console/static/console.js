// Tells the console the browser's time zone, so that dates are shown in it. A preference,
// not a secret: the one cookie the console does not set itself.
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || document.cookie.indexOf("gantry_tz=" + encodeURIComponent(zone)) !== -1) {
    return;
  }
  var secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "gantry_tz=" + encodeURIComponent(zone) + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
})();
