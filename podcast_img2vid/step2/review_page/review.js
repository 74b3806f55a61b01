(() => {
  const data = JSON.parse(document.getElementById('review-data').textContent);
  const lang = /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
  const fill = (s, a) => s.replace(/\{(\w+)\}/g, (m, k) => (k in a ? String(a[k]) : m));
  const tr = (key, a) => fill(data.text[lang][key] || data.text.zh[key], a || {});
  if (lang !== 'zh') {
    document.documentElement.lang = 'en';
    document.title = tr('title') + document.title.slice(data.text.zh.title.length);
    for (const el of document.querySelectorAll('[data-t]')) {
      el.textContent = tr(el.dataset.t, el.dataset.a ? JSON.parse(el.dataset.a) : {});
    }
    for (const attr of ['alt', 'aria-label']) {
      for (const el of document.querySelectorAll('[data-t-' + attr + ']')) {
        const args = JSON.parse(el.getAttribute('data-a-' + attr));
        el.setAttribute(attr, tr(el.getAttribute('data-t-' + attr), args));
      }
    }
  }

  // Only the cards on (or near) the screen hold a video source and play; the others release it.
  const shown = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      for (const video of entry.target.querySelectorAll('video[data-src]')) {
        if (entry.isIntersecting) {
          if (!video.getAttribute('src')) video.src = video.dataset.src;
          video.play().catch(() => {});
        } else if (video.getAttribute('src')) {
          video.pause();
          video.removeAttribute('src');
          video.load();
        }
      }
    }
  }, {rootMargin: '200px 0px'});
  for (const card of document.querySelectorAll('.card')) shown.observe(card);
  for (const video of document.querySelectorAll('video[data-src]')) {
    video.addEventListener('error', () => {
      if (!video.getAttribute('src')) return;
      const note = document.createElement('p');
      note.className = 'reason';
      note.textContent = tr('cannot_play');
      const next = video.nextElementSibling;
      if (!next || !next.classList.contains('reason')) video.after(note);
    });
  }

  document.getElementById('only-bad').addEventListener('change', (e) => {
    document.body.classList.toggle('only-bad', e.target.checked);
  });

  const boxes = [...document.querySelectorAll('input.pick')];
  const summary = document.getElementById('summary');
  const panel = document.getElementById('commands');
  const duration = (s) => {
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return lang === 'zh'
      ? (h ? h + ' 小時 ' : '') + (h || m ? m + ' 分 ' : '') + r + ' 秒'
      : (h ? h + ' h ' : '') + (h || m ? m + ' min ' : '') + r + ' s';
  };
  const update = () => {
    const picked = boxes.filter((b) => b.checked);
    for (const b of boxes) b.closest('.card').classList.toggle('picked', b.checked);
    panel.hidden = picked.length === 0;
    if (!picked.length) {
      summary.textContent = tr('none_selected');
      return;
    }
    let total = 0, known = true;
    for (const b of picked) {
      const s = b.dataset.seconds ? Number(b.dataset.seconds) : data.mean_seconds;
      if (s === null || s === undefined) known = false; else total += s;
    }
    summary.textContent = known ? tr('selected', {n: picked.length, time: duration(total)})
      : tr('selected_no_time', {n: picked.length});
    const groups = new Map();
    for (const b of picked) {
      const key = b.dataset.sh + '\n' + b.dataset.ps;
      if (!groups.has(key)) groups.set(key, {ps: b.dataset.ps, sh: b.dataset.sh, stems: []});
      groups.get(key).stems.push(b.value);
    }
    const line = (program, flags, stems) =>
      [program, flags, '--only', stems.join(' '), '--seed', String(data.seed)].filter(Boolean).join(' ');
    const all = [...groups.values()];
    for (const shell of ['ps', 'sh']) {
      const lines = all.map((g) => line(data.program[shell], g[shell], g.stems));
      document.getElementById('cmd-' + shell).textContent = lines.join('\n');
    }
  };
  for (const b of boxes) b.addEventListener('change', update);
  update();

  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        document.execCommand('copy');
      }
      button.textContent = tr('copied');
      setTimeout(() => { button.textContent = tr('copy'); }, 1500);
    });
  }
})();
