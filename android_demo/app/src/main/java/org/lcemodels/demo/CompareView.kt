package org.lcemodels.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Matrix
import android.graphics.Paint
import android.util.AttributeSet
import android.view.MotionEvent
import android.view.ScaleGestureDetector
import android.view.View
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.min

/**
 * Before/after view: the bicubic upscale left of a draggable divider, the network's output
 * right of it, both under one pinch-zoom and pan. Zoomed in, pixels are drawn unfiltered so
 * what is compared is the images, not the screen's resampling.
 */
class CompareView(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var before: Bitmap? = null
    private var after: Bitmap? = null
    private var split = 0.5f // divider, as a share of the view's width
    private val transform = Matrix()
    private val density = resources.displayMetrics.density
    private val bitmapPaint = Paint()
    private val linePaint = Paint().apply { color = Color.WHITE; strokeWidth = 2 * density }
    private val labelPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.WHITE; textSize = 14 * density; setShadowLayer(3f, 0f, 0f, Color.BLACK)
    }
    private var dragging = false
    private var lastX = 0f
    private var lastY = 0f

    private val scaler = ScaleGestureDetector(context, object : ScaleGestureDetector.SimpleOnScaleGestureListener() {
        override fun onScale(d: ScaleGestureDetector): Boolean {
            val now = currentScale()
            val factor = min(max(d.scaleFactor, 0.2f / now), 64f / now)
            transform.postScale(factor, factor, d.focusX, d.focusY)
            invalidate()
            return true
        }
    })

    /** Show a new pair (same size); the view fits them and resets the divider. */
    fun show(bicubic: Bitmap, restored: Bitmap) {
        before = bicubic
        after = restored
        split = 0.5f
        fit()
        invalidate()
    }

    private fun currentScale(): Float {
        val v = FloatArray(9)
        transform.getValues(v)
        return v[Matrix.MSCALE_X]
    }

    private fun fit() {
        val b = after ?: return
        if (width == 0 || height == 0) return
        val s = min(width.toFloat() / b.width, height.toFloat() / b.height)
        transform.setScale(s, s)
        transform.postTranslate((width - b.width * s) / 2, (height - b.height * s) / 2)
    }

    override fun onSizeChanged(w: Int, h: Int, oldw: Int, oldh: Int) = fit()

    override fun onDraw(canvas: Canvas) {
        val b = before ?: return
        val a = after ?: return
        bitmapPaint.isFilterBitmap = currentScale() < 2f
        val x = split * width
        canvas.save()
        canvas.clipRect(0f, 0f, x, height.toFloat())
        canvas.drawBitmap(b, transform, bitmapPaint)
        canvas.restore()
        canvas.save()
        canvas.clipRect(x, 0f, width.toFloat(), height.toFloat())
        canvas.drawBitmap(a, transform, bitmapPaint)
        canvas.restore()
        canvas.drawLine(x, 0f, x, height.toFloat(), linePaint)
        canvas.drawText("bicubic", 8 * density, 20 * density, labelPaint)
        val label = "1-bit SR"
        canvas.drawText(label, width - labelPaint.measureText(label) - 8 * density, 20 * density, labelPaint)
    }

    override fun onTouchEvent(e: MotionEvent): Boolean {
        if (after == null) return false
        scaler.onTouchEvent(e)
        when (e.actionMasked) {
            MotionEvent.ACTION_DOWN -> {
                dragging = abs(e.x - split * width) < 24 * density
                lastX = e.x
                lastY = e.y
            }
            MotionEvent.ACTION_MOVE -> if (!scaler.isInProgress && e.pointerCount == 1) {
                if (dragging) {
                    split = min(max(e.x / width, 0f), 1f)
                } else {
                    transform.postTranslate(e.x - lastX, e.y - lastY)
                }
                lastX = e.x
                lastY = e.y
                invalidate()
            }
            MotionEvent.ACTION_POINTER_DOWN -> dragging = false
            MotionEvent.ACTION_POINTER_UP -> { // pan on from the finger that stays
                val stays = if (e.actionIndex == 0) 1 else 0
                lastX = e.getX(stays)
                lastY = e.getY(stays)
            }
            MotionEvent.ACTION_UP -> performClick()
        }
        return true
    }

    override fun performClick(): Boolean = super.performClick()
}
