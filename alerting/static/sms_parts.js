/* SMS part counting; mirrors alerting/sms_parts.py (keep them in step). */
(function (global) {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}[]~|€\\\f";

  function isGsm7(text) {
    for (var ch of text) {
      if (BASIC.indexOf(ch) < 0 && EXTENDED.indexOf(ch) < 0) return false;
    }
    return true;
  }

  function countParts(text) {
    var units, single, multi, encoding;
    if (isGsm7(text)) {
      units = 0;
      for (var ch of text) units += EXTENDED.indexOf(ch) >= 0 ? 2 : 1;
      single = 160; multi = 153; encoding = "GSM-7";
    } else {
      units = text.length; // JS strings are UTF-16: emoji already count as two units
      single = 70; multi = 67; encoding = "UCS-2";
    }
    var parts = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    return { encoding: encoding, units: units, parts: parts };
  }

  global.SmsParts = { countParts: countParts, isGsm7: isGsm7 };
})(window);
