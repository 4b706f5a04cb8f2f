// Spend the one-time link at once in a real browser; a link preview that only fetches the
// page cannot, because spending it takes this POST. (Vendored; no inline script.)
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("login");
  if (form) { form.submit(); }
});
