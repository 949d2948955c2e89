// The order page's total as items change: the items' quantities × unit prices, plus shipping,
// minus the discount, as Order.recalculate_total computes it on save (never below zero). The
// server's figure replaces this one when the order is saved; this only spares staff a save to
// see it.
"use strict";

// Loaded in the page's head (the admin's Media): wait for the form.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("order_form");
  if (!form) return;
  const total = form.querySelector(".field-total .readonly");
  if (!total) return;

  // Amounts in hundredths, as integers: no binary floating point in money.
  function cents(input) {
    const text = (input && input.value || "").trim().replace(/,/g, "");
    if (!/^\d+(\.\d{0,2})?$/.test(text)) return null;
    const [whole, fraction = ""] = text.split(".");
    return Number(whole) * 100 + Number((fraction + "00").slice(0, 2));
  }

  function format(value) {
    const whole = Math.floor(value / 100);
    return whole + "." + String(value % 100).padStart(2, "0");
  }

  function recalculate() {
    let sum = 0;
    let unknown = false;
    form.querySelectorAll("tr.form-row[id^='items-']:not(.empty-form)").forEach((row) => {
      const deleted = row.querySelector("input[name$='-DELETE']");
      if (deleted && deleted.checked) return;
      const name = row.querySelector("input[name$='-product_name']");
      const quantity = row.querySelector("input[name$='-quantity']");
      const price = row.querySelector("input[name$='-unit_price']");
      if (!name || !name.value.trim()) return; // an empty extra row is not saved
      const q = Number.parseInt(quantity && quantity.value, 10);
      const p = cents(price);
      if (!Number.isInteger(q) || q < 0 || p === null) {
        unknown = true;
        return;
      }
      sum += q * p;
    });
    const shipping = cents(form.querySelector("#id_shipping_fee"));
    const discount = cents(form.querySelector("#id_discount"));
    if (unknown || shipping === null || discount === null) {
      total.textContent = "—";
      return;
    }
    total.textContent = format(Math.max(sum + shipping - discount, 0));
  }

  form.addEventListener("input", recalculate);
  form.addEventListener("change", recalculate);
  document.addEventListener("formset:added", recalculate);
  document.addEventListener("formset:removed", recalculate);
  recalculate();
});
