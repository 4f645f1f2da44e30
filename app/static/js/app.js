// Behaviour that would otherwise be inline handlers, which the Content-Security-Policy
// (script-src 'self') does not run: data-confirm on a form asks before it is submitted,
// data-print on a button prints the page.
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
}, true);
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
