"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let lastScored = null;

  function text(tag, content, className) {
    const node = document.createElement(tag);
    node.textContent = content;
    if (className) node.className = className;
    return node;
  }

  function where(p) {
    if (p.cell) return p.file + "!" + p.cell;
    if (p.line) return p.file + " 第 " + p.line + " 行第 " + p.column + " 列";
    return p.file || "";
  }

  function showProblems(target, error) {
    target.replaceChildren();
    target.appendChild(text("p", error.message, "error"));
    if (!error.problems || !error.problems.length) return;
    const list = document.createElement("ul");
    list.className = "problems";
    for (const p of error.problems) {
      const parts = [where(p), p.entity, p.field ? "字段 " + p.field : ""].filter(Boolean);
      let line = (parts.length ? parts.join("，") + "：" : "") + p.message;
      if (p.suggestion) line += "（" + p.suggestion + "）";
      list.appendChild(text("li", line, "error"));
    }
    target.appendChild(list);
  }

  async function failure(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON: fall through */ }
    return { message: "请求失败（HTTP " + response.status + "）", problems: [] };
  }

  function formData(extra) {
    const data = new FormData();
    data.append("ruleset", $("ruleset").value);
    const period = $("period").value.trim();
    if (period) data.append("period", period);
    data.append("file", $("file").files[0]);
    for (const [k, v] of Object.entries(extra || {})) data.append(k, v);
    return data;
  }

  function periodQuery() {
    const period = $("period").value.trim();
    return period ? "?period=" + encodeURIComponent(period) : "";
  }

  async function refreshVersion() {
    const id = $("ruleset").value;
    $("template-link").href = "v1/template/" + encodeURIComponent(id) + periodQuery();
    const period = $("period").value.trim();
    if (!id || !period) { $("version").textContent = ""; return; }
    const response = await fetch("v1/rulesets/" + encodeURIComponent(id) + "/in-force" + periodQuery());
    if (response.ok) {
      const body = await response.json();
      const v = body.version;
      $("version").textContent = "期间 " + period + " 施行：" + v.title + "（版本 " + v.version + "，" + v.file + "）";
    } else {
      $("version").textContent = (await failure(response)).message;
    }
  }

  async function loadRulesets() {
    const response = await fetch("v1/rulesets");
    const select = $("ruleset");
    if (!response.ok) { showProblems($("problems"), await failure(response)); return; }
    const body = await response.json();
    for (const r of body.rulesets) {
      const option = text("option", r.title + "（" + r.id + "）");
      option.value = r.id;
      select.appendChild(option);
    }
    await refreshVersion();
  }

  function outcomeText(result) {
    return result.outcomes.map((o) => o.amount ? o.label + " " + o.amount + (o.unit || "") : o.label).join("；");
  }

  function showRanking(results) {
    const wrap = $("ranking");
    wrap.replaceChildren();
    const table = document.createElement("table");
    table.id = "ranking-table";
    const caption = text("caption", "排名（共 " + results.length + " 个对象）");
    table.appendChild(caption);
    const head = document.createElement("tr");
    for (const h of ["排名", "对象", "总分", "等级", "奖惩", "说明"]) {
      const th = text("th", h);
      th.scope = "col";
      head.appendChild(th);
    }
    const thead = document.createElement("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    const tbody = document.createElement("tbody");
    const ranked = results.slice().sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9));
    for (const r of ranked) {
      const row = document.createElement("tr");
      row.appendChild(text("td", r.rank == null ? "—" : String(r.rank), "num"));
      row.appendChild(text("td", r.entity));
      row.appendChild(text("td", r.total, "num"));
      row.appendChild(text("td", r.grade || "—"));
      row.appendChild(text("td", outcomeText(r) || "—"));
      const cell = document.createElement("td");
      const button = text("button", "查看 " + r.entity + " 的说明", "link");
      button.type = "button";
      button.addEventListener("click", () => explain(r.entity));
      cell.appendChild(button);
      row.appendChild(cell);
      tbody.appendChild(row);
    }
    table.appendChild(tbody);
    wrap.appendChild(table);
  }

  async function explain(entity) {
    const response = await fetch("v1/explain", { method: "POST", body: formData({ entity: entity }) });
    const section = $("explanation");
    section.hidden = false;
    if (!response.ok) {
      $("explain-text").textContent = (await failure(response)).message;
    } else {
      const body = await response.json();
      $("explain-text").textContent = body.text;
    }
    $("explain-title").textContent = entity + " 的说明";
    $("explain-title").focus();
  }

  async function score(event) {
    event.preventDefault();
    const status = $("score-status");
    $("problems").replaceChildren();
    $("ranking").replaceChildren();
    $("explanation").hidden = true;
    $("xlsx-button").disabled = true;
    $("html-button").disabled = true;
    if (!$("file").files.length) { status.textContent = "请先选择填好的工作簿"; return; }
    status.textContent = "正在计分…";
    const response = await fetch("v1/score", { method: "POST", body: formData() });
    if (!response.ok) {
      status.textContent = "未计分";
      showProblems($("problems"), await failure(response));
      return;
    }
    const results = await response.json();
    lastScored = true;
    status.textContent = "已计分：" + results.length + " 个对象";
    showRanking(results);
    $("xlsx-button").disabled = false;
    $("html-button").disabled = false;
  }

  async function download(format, name) {
    if (!lastScored) return;
    const response = await fetch("v1/score?format=" + format, { method: "POST", body: formData() });
    if (!response.ok) { showProblems($("problems"), await failure(response)); return; }
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }

  function goToLine(line) {
    const area = $("ruleset-text");
    const lines = area.value.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const end = start + (lines[line - 1] || "").length;
    area.focus();
    area.setSelectionRange(start, end);
  }

  async function check(event) {
    event.preventDefault();
    const status = $("check-status");
    const list = $("check-problems");
    list.replaceChildren();
    const name = $("ruleset-file").files.length ? $("ruleset-file").files[0].name : "粘贴的规则集.yaml";
    const response = await fetch("v1/validate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("ruleset-text").value, name: name }),
    });
    if (!response.ok) { status.textContent = (await failure(response)).message; return; }
    const body = await response.json();
    const errors = body.problems.filter((p) => p.severity === "error").length;
    status.textContent = body.valid
      ? "有效" + (body.problems.length ? "（" + body.problems.length + " 个警告）" : "")
      : "无效：" + errors + " 个错误，" + (body.problems.length - errors) + " 个警告";
    for (const p of body.problems) {
      const item = document.createElement("li");
      const words = (p.severity === "error" ? "错误" : "警告") + "：第 " + p.line + " 行第 " + p.column + " 列，" + p.path + "：" + p.message + (p.suggestion ? "（" + p.suggestion + "）" : "");
      if (p.line) {
        const button = text("button", words, "link");
        button.type = "button";
        button.addEventListener("click", () => goToLine(p.line));
        item.appendChild(button);
      } else {
        item.textContent = words;
      }
      list.appendChild(item);
    }
  }

  function readRulesetFile() {
    const file = $("ruleset-file").files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => { $("ruleset-text").value = String(reader.result); };
    reader.readAsText(file, "utf-8");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("ruleset").addEventListener("change", refreshVersion);
    $("period").addEventListener("change", refreshVersion);
    $("score-form").addEventListener("submit", score);
    $("xlsx-button").addEventListener("click", () => download("xlsx", "结果.xlsx"));
    $("html-button").addEventListener("click", () => download("html", "报告.html"));
    $("check-form").addEventListener("submit", check);
    $("ruleset-file").addEventListener("change", readRulesetFile);
    loadRulesets();
  });
})();
