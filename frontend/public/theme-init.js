// Apply the saved theme before first paint (no flash). A classic script, loaded before the app.
try {
  var t = localStorage.getItem('ac.theme')
  if (t === 'dark' || (!t && matchMedia('(prefers-color-scheme: dark)').matches))
    document.documentElement.classList.add('dark')
} catch (e) {}
