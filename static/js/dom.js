// Building the pages' DOM without a framework.

// el("li", {class: "x", onclick: fn, "data-id": 3}, child, "text") -> <li>; null children and attributes are skipped.
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

// A long list of rows of one height that holds elements only for the rows in
// sight of its scrolling ancestor (plus a few either side): a thousand units
// are a few dozen elements, built in a few milliseconds instead of a
// second. The list element keeps the height of every row, so the scroll bar
// is the whole list's; rows are placed absolutely at index × height, which CSS
// fixes (the first row built is measured). A row's element is kept while its
// item is the same, so a focused row keeps focus; `decorate(element, item)`
// brings a kept row up to date with what is not in its item (the selection).
//
// list.dataset.rows says how many rows the list holds, seen or not (tests, benchmarks).
export class RowWindow {
  constructor(list, scroller, { render, key = (item) => item.id, decorate = () => {}, overscan = 8 }) {
    Object.assign(this, { list, scroller, render, key, decorate, overscan });
    this.items = [];
    this.rowHeight = 0;
    this.built = new Map(); // key -> {item, element}
    this.pending = false;
    list.classList.add("row-window");
    scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(scroller);
  }

  setItems(items) {
    this.items = items;
    this.list.dataset.rows = items.length;
    this.update();
  }

  indexOf(key) {
    return this.items.findIndex((item) => this.key(item) === key);
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.update();
    });
  }

  // Builds the rows in sight; reads the layout once (where the list is in its scroller).
  update() {
    const { items, list } = this;
    if (!items.length) {
      list.replaceChildren();
      list.style.height = "0px";
      this.built.clear();
      return;
    }
    if (!this.rowHeight) this.measure();
    const height = this.rowHeight;
    list.style.height = `${items.length * height}px`;
    const top = list.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
    const sight = this.scroller.clientHeight || window.innerHeight;
    const first = Math.max(0, Math.floor(-top / height) - this.overscan);
    const last = Math.min(items.length, Math.ceil((sight - top) / height) + this.overscan);
    const wanted = new Map();
    const elements = [];
    for (let index = first; index < last; index++) {
      const item = items[index];
      const key = this.key(item);
      let row = this.built.get(key);
      if (!row || row.item !== item) row = { item, element: this.render(item) };
      this.decorate(row.element, item);
      row.element.setAttribute("aria-setsize", items.length);
      row.element.setAttribute("aria-posinset", index + 1);
      row.element.style.top = `${index * height}px`;
      wanted.set(key, row);
      elements.push(row.element);
    }
    // In place: rows out of sight go, new ones come in between; the rest stay (and keep focus).
    const keep = new Set(elements);
    for (const child of [...list.children]) if (!keep.has(child)) child.remove();
    let cursor = list.firstChild;
    for (const element of elements) {
      if (cursor === element) cursor = cursor.nextSibling;
      else list.insertBefore(element, cursor);
    }
    this.built = wanted;
  }

  measure() {
    const probe = this.render(this.items[0]);
    probe.style.visibility = "hidden";
    this.list.append(probe);
    this.rowHeight = probe.offsetHeight || 1;
    probe.remove();
  }

  // Scrolls the scroller the least that brings row `index` into sight.
  reveal(index) {
    if (index < 0 || !this.rowHeight) return;
    const rowTop = this.list.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top
      + this.scroller.scrollTop + index * this.rowHeight;
    const { scrollTop, clientHeight } = this.scroller;
    if (rowTop < scrollTop) this.scroller.scrollTop = rowTop;
    else if (rowTop + this.rowHeight > scrollTop + clientHeight) this.scroller.scrollTop = rowTop + this.rowHeight - clientHeight;
    this.update();
  }
}
