"""The browser console: a page for trying the whole system by hand."""
