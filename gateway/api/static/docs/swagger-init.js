// Starts Swagger UI on /docs from the gateway's own files (no CDN, no inline script: the page's policy allows neither).
const element = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: element.dataset.openapi,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
});
