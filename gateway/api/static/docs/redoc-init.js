// Starts ReDoc on /redoc from the gateway's own files (no CDN, no inline script: the page's policy allows neither).
const element = document.getElementById("redoc");
Redoc.init(element.dataset.openapi, {}, element);
