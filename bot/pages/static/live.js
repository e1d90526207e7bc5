// The live meeting: statements and step changes from the server-sent events of this page.
"use strict";
(function () {
  var list = document.getElementById("transcript");
  if (!list || !window.EventSource) { return; }
  var source = new EventSource(list.dataset.events + "?after=" + list.dataset.last);
  source.addEventListener("open", function () {
    document.getElementById("live").hidden = false;
  });
  source.addEventListener("statement", function (event) {
    var data = JSON.parse(event.data);
    if (document.getElementById("s" + data.seq)) { return; }
    var item = document.createElement("li");
    item.id = "s" + data.seq;
    item.textContent = data.text;
    list.appendChild(item);
    document.getElementById("empty").hidden = true;
    item.scrollIntoView({ block: "end", behavior: "smooth" });
  });
  source.addEventListener("expired", function (event) {
    source.close();
    document.getElementById("live").textContent = JSON.parse(event.data).text;
  });
  source.addEventListener("state", function (event) {
    var data = JSON.parse(event.data);
    document.getElementById("step").textContent = data.step;
    document.getElementById("meeting").textContent = data.meeting;
  });
})();
