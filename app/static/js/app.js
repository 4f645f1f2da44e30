// Behaviour that would otherwise be inline handlers, which the Content-Security-Policy
// (script-src 'self') does not run: data-confirm on a form asks before it is submitted,
// data-print on a button prints the page, data-nav-toggle folds the phone navigation.
document.documentElement.classList.add("js");  // the phone menu folds only when JS can open it
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
  var toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) {
    var bar = toggle.closest(".topbar");
    var open = bar.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
});
