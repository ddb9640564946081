// Swagger UI over the server's own OpenAPI document. A file, not an inline <script>: the CSP forbids those.
window.ui = SwaggerUIBundle({
  // Relative to /docs/, so it also works behind a path prefix.
  url: new URL("../openapi.json", window.location.href).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  // The default sends the spec's URL to validator.swagger.io for a badge: a third-party request, offline a
  // broken image.
  validatorUrl: null,
});
